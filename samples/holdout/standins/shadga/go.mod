module detonate.test/holdout/shadga

go 1.19
