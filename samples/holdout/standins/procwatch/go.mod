module detonate.test/holdout/procwatch

go 1.19
