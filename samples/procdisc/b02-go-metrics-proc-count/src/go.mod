module example.test/procexporter

go 1.19
