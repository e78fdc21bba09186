module example.test/loadcheck

go 1.19
