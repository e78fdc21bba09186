module gothread

go 1.19
