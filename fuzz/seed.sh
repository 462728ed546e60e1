#!/usr/bin/env bash
# Fills fuzz/corpus/<target>/ with seed inputs for the six fuzz targets (docs/fuzzing.md).
#
#   fuzz/seed.sh            # from anywhere; idempotent (files are overwritten, never removed)
#
# Sources:
#   * fuzz/seeds/<target>/       small committed seeds (images, PDFs, the intake form scan)
#   * tests/bad/*                *.toml -> template; *.csv -> roster, clean; payload-*, *.txt ->
#                                payload; every other file -> decode, intake; and each crash
#                                reproduction tests/bad/fuzz-<target>-* -> its own target too
#   * templates/*.toml           -> template
#   * samples/ (when present)    scans -> decode, intake; *.csv -> roster, clean; *.toml -> template
#   * written here               rosters and cleaning lists with the header names of
#                                src/roster.rs and src/clean.rs, page codes (src/payload.rs)
#
# All names and ID numbers below are synthetic (valid GB 11643 check characters, made up).
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
corpus=$fuzz/corpus
targets=(decode template roster clean payload intake)
for t in "${targets[@]}"; do mkdir -p "$corpus/$t"; done

# Committed seeds.
for t in "${targets[@]}"; do
  if [ -d "$fuzz/seeds/$t" ]; then
    find "$fuzz/seeds/$t" -maxdepth 1 -type f ! -name 'README*' -exec cp -f {} "$corpus/$t/" \;
  fi
done

# tests/bad: each file to the targets that read its kind (crash reproductions
# fuzz-<target>-* to their target as well); anything else counts as a scan.
for f in "$root"/tests/bad/*; do
  [ -f "$f" ] || continue
  name=$(basename "$f")
  case "$name" in README*) continue ;; esac
  # A panic inside a third-party decoder that formscan's decoder guard contains (a rejected
  # page, in the bad-input catalogue) still aborts a fuzzer, whose panic hook runs before any
  # guard: seeding it would end every run at once. It stays out of the corpora.
  case "$name" in fuzz-decode-*) continue ;; esac
  case "$name" in
    fuzz-*)
      t=${name#fuzz-}
      t=${t%%-*}
      if [ -d "$corpus/$t" ]; then cp -f "$f" "$corpus/$t/"; fi
      ;;
  esac
  case "${name,,}" in
    *.toml) cp -f "$f" "$corpus/template/" ;;
    *.csv) cp -f "$f" "$corpus/roster/" && cp -f "$f" "$corpus/clean/" ;;
    payload-* | *.txt) cp -f "$f" "$corpus/payload/" ;;
    *)
      cp -f "$f" "$corpus/decode/"
      cp -f "$f" "$corpus/intake/"
      ;;
  esac
done

# Templates.
for f in "$root"/templates/*.toml; do
  [ -f "$f" ] && cp -f "$f" "$corpus/template/"
done

# samples/, when a real sample folder exists.
if [ -d "$root/samples" ]; then
  while IFS= read -r -d '' f; do
    name=$(basename "$f")
    case "${name,,}" in
      *.jpg | *.jpeg | *.png | *.tif | *.tiff | *.pdf)
        cp -f "$f" "$corpus/decode/sample-$name"
        cp -f "$f" "$corpus/intake/sample-$name"
        ;;
      *.csv | *.txt)
        cp -f "$f" "$corpus/roster/sample-$name"
        cp -f "$f" "$corpus/clean/sample-$name"
        ;;
      *.toml) cp -f "$f" "$corpus/template/sample-$name" ;;
    esac
  done < <(find "$root/samples" -type f -size -2M -print0)
fi

# ---- rosters (src/roster.rs: COLUMNS) ------------------------------------------------------
r=$corpus/roster
cat >"$r/zh.csv" <<'EOF'
姓名,性别,民族,出生日期,公民身份号码,学校,年级,班级,照片
张小明,男,汉族,2012-03-04,450305201203040110,第一实验小学,五年级,3班,
李小红,女,壮族,2012-05-17,450305201205170226,第一实验小学,五年级,3班,face:2
王芳芳,女,汉族,,45030320120229057X,第一实验小学,五年级,4班,
EOF
cat >"$r/en.csv" <<'EOF'
name,sex,ethnicity,birth_date,id_number,school,grade,class,photo
Zhao Ziyi,male,Han,2011-11-30,450302201111300350,Second Primary,Grade 6,Class 1,
Qian Wen,female,,2014-01-15,450304201401150680,Second Primary,Grade 4,Class 2,photos/qian.jpg
EOF
cat >"$r/aliases-title.csv" <<'EOF'
2025年学生名单,,,,,,
,,,,,,
*学生姓名,gender,nation,dob,身份证号码,学校名称,class
孙一,M,汉,2013/08/01,="450311201308010468",第三中学,初一(2)班
周二,女,瑶族,20100910,'45030520100910079X,第三中学,初一(2)班
吴三,男,汉族,2012年12月25日,4.50381E+17,第三中学,初一(2)班
郑四,男,汉族,2012-12-25,450381201212250802,,初一(2)班
郑四,男,汉族,2012-12-25,450381201212250802,第三中学,初一(2)班
EOF
printf '证件号码\t姓名\t学校\t班级\t性别\n450305201203040110\t张小明\t第一实验小学\t3班\t男\n450305201205170226\t李小红\t第一实验小学\t3班\t1\n' >"$r/tab.csv"
printf 'id;name;school;grade;class\r\n450302201111300350;Zhao;School;6;1\r\n450304201401150680;"Qian; Wen";School;4;"2\r\nB"\r\n' >"$r/semicolon-crlf.csv"
printf '\xef\xbb\xbfname,id,school,class,birthdate,sex\n阿依古丽·买买提,45030320120229057X,第一实验小学,3班,2012-02-29,女\n"=cmd|x",450305201203040110,"School, ""A""",1,,\n' >"$r/bom-quotes.csv"
if command -v iconv >/dev/null 2>&1; then
  iconv -f UTF-8 -t GB18030 "$r/zh.csv" >"$r/zh-gbk.csv"
  { printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE "$r/tab.csv"; } >"$r/tab-utf16.csv"
fi

# ---- cleaning lists (src/clean.rs: ALL_COLS, spec) --------------------------------------------
# One input = insured %%%% roll %%%% holders %%%% submitted (see fuzz_targets/clean.rs).
c=$corpus/clean
cat >"$c/zh.txt" <<'EOF'
公民身份号码,姓名,性别,出生日期,民族,参保状态,照片
450305201203040110,张小明,男,2012-03-04,汉族,正常参保,
450305201205170226,李小红,女,2012-05-17,壮族,停保,
45030320120229057X,王芳芳,女,2012-02-29,汉族,,face:1
450302201111300350,赵子义,男,2011-11-30,汉族,参保缴费,
450302201111300350,赵子义,男,2011-11-30,汉族,参保缴费,
%%%%
身份证号,学生姓名,学校,年级,班级,性别,出生日期
450305201203040110,张小明,第一实验小学,五年级,3班,男,2012-03-04
45030320120229057X,王 芳芳,第一实验小学,五年级,4班,女,
450302201111300350,赵子义,第二小学,六年级,1班,女,
450311201308010468,孙一,第三中学,初一,2班,,
%%%%
社会保障号码
450311201308010468
%%%%
证件号码,姓名
450302201111300350,赵子义
EOF
cat >"$c/en.txt" <<'EOF'
id_number,name,sex,birth_date,ethnicity,insured_status,photo_file
450304201401150680,Qian Wen,female,2014-01-15,Han,active,
45030520100910079X,Zhou Er,female,,Yao,suspended,
450381201212250802,Zheng Si,male,2012-12-25,,yes,
%%%%
id,student_name,school_name,grade,class_name,gender,dob
450304201401150680,Qian  Wen,Second Primary,4,2,F,2014-01-15
450381201212250802,Zheng Si,Second Primary,5,1,M,2012-12-26
4.50305E+17,Nobody,Second Primary,5,1,,
450305201205170226,Li,Second Primary,5,1,,,extra
%%%%
id_no
not-an-id
%%%%
id
45030520100910079X
EOF
printf 'id\tname\tstatus\n450305201203040110\t张小明\t1\n%%%%%%%%\nid;name;school;class\r\n450305201203040110;张小明;School;1\r\n' >"$c/tab-semicolon.txt"

# ---- templates: a minimal valid one besides the bundled templates --------------------------
cat >"$corpus/template/minimal.toml" <<'EOF'
id = "t"
version = 1
title = "T"
width = 210.0
height = 297.0
[[marks]]
name = "a"
x = 5.0
y = 5.0
size = 6.0
[[marks]]
name = "b"
x = 199.0
y = 5.0
size = 6.0
[[marks]]
name = "c"
x = 5.0
y = 286.0
size = 6.0
[[marks]]
name = "d"
x = 199.0
y = 286.0
size = 6.0
[[marks]]
name = "e"
x = 5.0
y = 145.0
size = 6.0
[[marks]]
name = "f"
x = 199.0
y = 145.0
size = 6.0
[[groups]]
name = "g"
choice = "single"
label = "是否"
[[fields]]
name = "qr"
kind = "barcode"
x = 100.0
y = 20.0
w = 15.0
h = 15.0
[[fields]]
name = "yes"
kind = "checkbox"
group = "g"
value = "yes"
x = 30.0
y = 60.0
w = 4.0
h = 4.0
[[fields]]
name = "phone"
kind = "comb"
cells = 11
charset = "digits"
x = 30.0
y = 80.0
w = 66.0
h = 8.0
[[fields]]
name = "who"
kind = "printed"
source = "name"
size = 4.0
x = 30.0
y = 100.0
w = 60.0
h = 6.0
[[labels]]
text = "姓名"
x = 10.0
y = 104.0
size = 3.5
[[rules]]
x1 = 10.0
y1 = 120.0
x2 = 200.0
y2 = 120.0
EOF

# ---- page codes (src/payload.rs); the target also appends a correct checksum itself --------
p=$corpus/payload
printf '%s' 'FS1|sbk-student|1|RDEMO|000007|1|0|C8C152C2' >"$p/page.txt"
printf '%s' 'FS1|sbk-student|1|R3F9A01|000042|1|1|C57FCC10' >"$p/page-photo.txt"
printf '%s' 'FSC1|sbk-student|1|R3F9A01|cover|000041|000080|40|0|3797F77C' >"$p/cover.txt"
printf '%s' 'FSC1|sbk-student|1|R3F9A01|list|000041|000080|40|2|DE7FB9A3' >"$p/list.txt"
printf '%s' 'FS1|sbk-student|1|RDEMO|000007|1|0' >"$p/page-body.txt"
printf '%s' 'FSC1|sbk-student|1|R3F9A01|list|000041|000080|40|2' >"$p/list-body.txt"

for t in "${targets[@]}"; do
  printf '%-9s %4d seeds\n' "$t" "$(find "$corpus/$t" -maxdepth 1 -type f | wc -l)"
done
