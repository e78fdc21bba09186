#!/bin/sh
# payout
ADDR=1CyBAsM8abCcYRN9mvXUMvxTzxAWNGuGmZ
