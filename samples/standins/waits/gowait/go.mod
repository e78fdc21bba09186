module detonate.test/gowait

go 1.19
