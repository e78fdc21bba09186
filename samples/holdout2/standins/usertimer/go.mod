module detonate.test/holdout2/usertimer

go 1.19
