#!/bin/sh
wget -q http://pool.test:3333/health
