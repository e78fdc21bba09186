module gosub

go 1.19
