module detonate.test/wild/tlsworker

go 1.19
