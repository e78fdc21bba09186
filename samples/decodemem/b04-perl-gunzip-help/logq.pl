#!/usr/bin/perl
# logq (benign look-alike): a log query tool whose help text is kept gzip'd and base64'd in the
# script; `logq --help` decodes and gunzips it in memory (MIME::Base64, Compress::Zlib) and
# prints it. Then it runs a query over its own small sample log.
use strict;
use warnings;
use MIME::Base64 qw(decode_base64);
use Compress::Zlib qw(memGunzip);

my $HELP = <<'B64';
H4sIAAAAAAACAz2PT0sDMRDF7/kU71aFriuCl0KPFZRSRS+CVBi7s39KdrM7k2zrpZ/dZFcNhLw3/OZlxrpqQIYh
sHxDvYSDD8IFrKvUmKBU8SqZAR9ZiYfH7WYfVYdderKjum6PzfvLqzHALwBAmIpZN536ZFyJfCTJY1ROfZ/uTdSp
K4ZhOlq7E8ijdepjrSV/qFlxVXBJwXrc3V4nfvo18b00nf/HSPH09ryDbTrWyKWp5tyyYVusR7KBl7O5CFd8XsIJ
CF8kjJOTwhg+U9tb1lXsn5a2PLJds4iTv1Kc9x6Lnnx9+YxrNPnC/ADt4FNsRQEAAA==
B64

if (grep { $_ eq '--help' || $_ eq '-h' } @ARGV) {
    print memGunzip(decode_base64($HELP));
}

my @log = (
    '{"level":"info","path":"/api/items","ms":12}',
    '{"level":"error","path":"/api/orders","ms":503}',
    '{"level":"info","path":"/healthz","ms":1}',
);
my $matches = grep { /"level":"error"/ } @log;
print "logq: $matches match(es) for level=error\n";
exit 0;
