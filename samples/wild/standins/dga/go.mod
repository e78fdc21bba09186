module detonate.test/wild/dga

go 1.19
