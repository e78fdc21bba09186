module detonate.test/holdout/backupd

go 1.19
