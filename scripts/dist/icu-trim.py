#!/usr/bin/env python3
"""Trims the ICU data package Foundation links into every static Swift binary (34 MB, every locale,
every legacy charset converter, every dictionary) down to what shipit uses: the root and English
locale data, time zones, break rules and the collation root (about 5 MB). Usage:
  icu-trim.py FULL.dat SMALL.dat   (FULL.dat: the .rodata of lib_FoundationICU.a's icu_packaged_data)
The package format is ICU's common data ("ToCP"): a header, a table of (name, offset) entries, then
each item; this rewrites the table for the items kept. Prints the items kept."""
import struct, sys, re
src,dst=sys.argv[1],sys.argv[2]
d=open(src,'rb').read()
hs=struct.unpack_from('<H',d,0)[0]
count=struct.unpack_from('<I',d,hs)[0]
items=[]
for i in range(count):
    no,do=struct.unpack_from('<II',d,hs+4+8*i)
    name=d[hs+no:d.index(b'\0',hs+no)].decode()
    items.append([name,do])
for i in range(count):
    end=items[i+1][1] if i+1<count else len(d)-hs
    items[i].append(d[hs+items[i][1]:hs+end])
LOC=re.compile(r'^[a-z]{2,3}(_[A-Za-z0-9]+)*\.res$')
KEEP_LOC={'root.res','en.res','en_US.res','en_US_POSIX.res','pool.res','res_index.res'}
def keep(name):
    parts=name.split('/')[1:]
    if len(parts)==1:
        b=parts[0]
        if b.endswith('.cnv') or b.endswith('.dict'): return False
        if LOC.match(b): return b in KEEP_LOC
        return True
    tree,b=parts[0],parts[-1]
    if tree=='translit': return False
    if b.endswith('.dict'): return False
    if tree=='brkitr' and b.endswith('.brk'): return True
    if tree=='coll' and b.endswith('.icu'): return True
    return b in KEEP_LOC
kept=[it for it in items if keep(it[0])]
# Rebuild: header, count, toc, names, then items (16-aligned).
header=d[:hs]
n=len(kept)
names=b''.join(it[0].encode()+b'\0' for it in kept)
toc_size=4+8*n
off=toc_size
name_offs=[]
for it in kept:
    name_offs.append(off); off+=len(it[0].encode())+1
off=(off+15)&~15
data_offs=[]
blob=b''
for it in kept:
    data_offs.append(off+len(blob))
    blob+=it[2]
    pad=(-len(blob))%16
    blob+=b'\0'*pad
out=bytearray(header)
out+=struct.pack('<I',n)
for a,b in zip(name_offs,data_offs): out+=struct.pack('<II',a,b)
out+=names
out+=b'\0'*(((toc_size+len(names)+15)&~15)-(toc_size+len(names)))
out+=blob
open(dst,'wb').write(out)
print(f'{count} -> {n} items, {len(d)} -> {len(out)} bytes', file=sys.stderr)
for it in kept: print(len(it[2]), it[0])
