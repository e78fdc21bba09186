module dbuslaunch

go 1.19
