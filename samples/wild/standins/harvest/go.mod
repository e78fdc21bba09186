module detonate.test/wild/harvest

go 1.19
