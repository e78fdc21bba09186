module example.test/kauditd2

go 1.19
