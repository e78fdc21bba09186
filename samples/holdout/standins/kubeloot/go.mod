module detonate.test/holdout/kubeloot

go 1.19
