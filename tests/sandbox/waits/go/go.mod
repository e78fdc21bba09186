module waitergo

go 1.19
