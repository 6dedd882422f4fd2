#!/usr/bin/perl
# kernels/*.cu -> C++ for the CPU emulation (tests/emu/cuda_emu.h): every
#   kernel<<<grid, block, smem, stream>>>(args)
# becomes
#   sg_emu_launch(sg_emu_config(grid, block, smem, stream), "kernel", [](auto... a) { kernel(a...); }, args)
# Newlines are kept, so line numbers stay those of the .cu file.
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
print "#line 1 \"$src\"\n", $text;
