module detonate.test/holdout2/timerfetch

go 1.19
