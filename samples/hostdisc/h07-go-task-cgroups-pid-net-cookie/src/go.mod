module example.test/nodeproblemagent

go 1.19
