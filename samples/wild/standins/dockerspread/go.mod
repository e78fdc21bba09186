module detonate.test/wild/dockerspread

go 1.19
