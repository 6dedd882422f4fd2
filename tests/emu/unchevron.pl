#!/usr/bin/perl
# kernels/*.cu -> C++ for the CPU emulation (tests/emu/cuda_emu.h): every
#   kernel<<<grid, block, smem, stream>>>(args)
# becomes
#   sg_emu_launch(sg_emu_config(grid, block, smem, stream), "kernel", [](auto... a) { kernel(a...); }, args)
# and shared memory is poisoned once per block (below). Newlines are kept, so
# line numbers stay those of the .cu file.
use strict;
use warnings;
my $src = shift or die "usage: unchevron.pl FILE.cu\n";
open my $in, '<', $src or die "unchevron.pl: $src: $!\n";
local $/;
my $text = <$in>;
close $in;
$text =~ s/\b([A-Za-z_]\w*(?:<[^<>()]*>)?)\s*<<<(.*?)>>>\s*\(\s*\)/sg_emu_launch(sg_emu_config($2), "$1", [](auto... sg_emu_a) { $1(sg_emu_a...); })/gs;
$text =~ s/\b([A-Za-z_]\w*(?:<[^<>()]*>)?)\s*<<<(.*?)>>>\s*\(/sg_emu_launch(sg_emu_config($2), "$1", [](auto... sg_emu_a) { $1(sg_emu_a...); }, /gs;
die "unchevron.pl: $src: a launch was not rewritten\n" if $text =~ /<<<|>>>/;
# __shared__ T a[N], b[M];  ->  static T a[N], b[M]; sg_emu_poison_shared(a, sizeof a); ...
# (one instance per block; poisoned with NaNs when each block first reaches it,
# so that a thread reading what no thread of its block wrote sees garbage)
$text =~ s{__shared__\s+(\w+)\s+([^;]+);}{
    my ($type, $decls) = ($1, $2);
    my @names = map { /^\s*(\w+)/ ? $1 : () } split /,/, $decls;
    "static $type $decls;" . join('', map { " sg_emu_poison_shared(&$_, sizeof $_);" } @names)
}ge;
print "#line 1 \"$src\"\n", $text;
