module example.test/tzsync

go 1.19
