module detonate.test/wild/scraper

go 1.19
