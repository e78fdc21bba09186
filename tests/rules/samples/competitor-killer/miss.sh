#!/bin/sh
# stops our own service on shutdown
pkill -f gunicorn
killall nginx
