module example.test/healthd

go 1.19
