module example.test/queueworker

go 1.19
