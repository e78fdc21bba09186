module example.test/crawler

go 1.19
