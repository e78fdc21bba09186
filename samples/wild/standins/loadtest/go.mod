module detonate.test/wild/loadtest

go 1.19
