module detonate.test/holdout2/healthcheck

go 1.19
