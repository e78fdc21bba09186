#!/bin/sh
exec ./worker -o stratum+ssl://203.0.113.9:443 -k
