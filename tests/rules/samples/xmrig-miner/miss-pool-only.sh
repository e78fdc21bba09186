#!/bin/sh
# connects to a pool but carries no miner: the IOC rule covers it, this rule must not
./worker -o stratum+tcp://pool.test:3333
