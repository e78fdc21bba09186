#!/bin/sh
./worker --user 4AFakeMoneroWa11etForDetonateTestsXmrFakeMoneroWa11etForDetonateTestsXmrFakeMoneroWa11etForDeto --pass x
