module example.test/sockstatexporter

go 1.19
