module example.test/sentinelhelper

go 1.19
