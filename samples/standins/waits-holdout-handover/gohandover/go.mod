module gohandover

go 1.19
