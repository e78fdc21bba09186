module example.test/fontcache

go 1.19
