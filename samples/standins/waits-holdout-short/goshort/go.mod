module goshort

go 1.19
