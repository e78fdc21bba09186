module example.test/wheelwarm

go 1.19
