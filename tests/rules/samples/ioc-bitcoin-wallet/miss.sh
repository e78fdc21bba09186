#!/bin/sh
# bad checksum on purpose
ADDR=1CyBAsM8abCcYRN9mvXUMvxTzxAWNGuGmY
ID=3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLz0
