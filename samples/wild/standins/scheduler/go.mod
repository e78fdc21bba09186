module detonate.test/wild/scheduler

go 1.19
