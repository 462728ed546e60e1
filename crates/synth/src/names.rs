//! Word lists for synthetic rosters. Every name the generator makes is invented from these
//! parts; no real person's data is in the repository.

/// Common surnames, with several that are frequent in Guangxi (覃, 韦, 莫, 蒙, 农).
pub const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "高", "林",
    "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾", "肖", "田", "董", "袁", "潘", "蒋",
    "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "沈", "姚", "卢", "钟", "谭", "陆", "汪", "范", "石", "廖",
    "贾", "夏", "韦", "方", "白", "邹", "孟", "熊", "秦", "江", "龙", "覃", "莫", "蒙", "农", "黎", "欧阳",
];

/// Characters used in given names.
pub const GIVEN: &[&str] = &[
    "子", "涵", "欣", "怡", "梓", "浩", "宇", "轩", "雨", "泽", "一", "诺", "佳", "琪", "俊", "杰", "思", "博", "文",
    "嘉", "晨", "睿", "明", "静", "婷", "鑫", "磊", "晓", "雪", "梦", "瑶", "瑞", "航", "天", "然", "心", "安", "可",
    "馨", "妍", "若", "曦", "家", "乐", "鹏", "辉", "伟", "芳", "丽", "华", "强", "军", "勇", "艳", "娜", "敏", "燕",
    "霞", "洋", "帆", "凯", "斌", "宁", "东", "海", "波", "健", "彤", "萱", "悦", "颖", "琳", "桂", "秀", "春",
];

/// Ethnic groups as written on the ID card, weighted roughly like Guilin's population.
pub const ETHNICITIES: &[(&str, u32)] =
    &[("汉族", 70), ("壮族", 14), ("瑶族", 8), ("苗族", 3), ("侗族", 3), ("回族", 2)];

/// Invented school names.
pub const SCHOOLS: &[&str] = &[
    "桂林市育才小学",
    "桂林市秀峰区榕湖小学",
    "桂林市第十九中学",
    "桂林市七星区实验幼儿园",
    "桂林市漓江中学",
    "桂林市象山区凤凰小学",
];

/// Grade names by school stage.
pub const GRADES: &[&str] = &[
    "小班",
    "中班",
    "大班",
    "一年级",
    "二年级",
    "三年级",
    "四年级",
    "五年级",
    "六年级",
    "初一",
    "初二",
    "初三",
    "高一",
    "高二",
    "高三",
];
