//! The demo's sample catalog: a Chinese convenience store's shelves, with valid EAN-13 codes.

use std::fmt::Write;

use till_domain::gtin::check_digit;

/// (Chinese name, English name, department, tax class, variants of (Chinese, English, price)).
type Family = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

const SIZES_DRINK: &[(&str, &str, &str)] = &[
    ("330ml", "330ml", "3.00"),
    ("500ml", "500ml", "3.50"),
    ("1.25L", "1.25L", "5.50"),
    ("2L", "2L", "7.50"),
];
const SIZES_WATER: &[(&str, &str, &str)] = &[
    ("380ml", "380ml", "1.50"),
    ("550ml", "550ml", "2.00"),
    ("1.5L", "1.5L", "3.50"),
    ("4L", "4L", "8.00"),
];
const FLAVOURS_CHIPS: &[(&str, &str, &str)] = &[
    ("原味 70g", "Original 70g", "7.50"),
    ("番茄味 70g", "Tomato 70g", "7.50"),
    ("黄瓜味 70g", "Cucumber 70g", "7.50"),
    ("烧烤味 70g", "BBQ 70g", "7.50"),
    ("青柠味 135g", "Lime 135g", "12.90"),
];
const NOODLES: &[(&str, &str, &str)] = &[
    ("袋装", "bag", "3.50"),
    ("桶装", "cup", "5.00"),
    ("五连包", "5-pack", "15.90"),
];
const TEA: &[(&str, &str, &str)] = &[
    ("250ml", "250ml", "2.50"),
    ("500ml", "500ml", "3.50"),
    ("1L", "1L", "5.00"),
];
const DAIRY: &[(&str, &str, &str)] = &[
    ("250ml", "250ml", "3.50"),
    ("250ml×12", "250ml x12", "42.00"),
    ("1L", "1L", "12.80"),
];
const BEER: &[(&str, &str, &str)] = &[
    ("330ml 罐", "330ml can", "4.50"),
    ("500ml 罐", "500ml can", "6.00"),
    ("600ml 瓶", "600ml bottle", "6.50"),
    ("330ml×6", "330ml x6", "25.00"),
];
const SWEETS: &[(&str, &str, &str)] = &[
    ("小包", "small", "5.90"),
    ("中包", "medium", "12.90"),
    ("家庭装", "family pack", "25.90"),
];
const CARE: &[(&str, &str, &str)] = &[
    ("小号", "small", "9.90"),
    ("标准装", "regular", "19.90"),
    ("大号", "large", "32.90"),
];
const FRESH: &[(&str, &str, &str)] = &[("", "", "6.50")];
const COFFEE: &[(&str, &str, &str)] = &[
    ("拿铁", "latte", "8.00"),
    ("美式", "americano", "6.50"),
    ("摩卡", "mocha", "8.50"),
    ("焦糖玛奇朵", "caramel macchiato", "12.00"),
];
const ICE_CREAM: &[(&str, &str, &str)] = &[
    ("香草", "vanilla", "5.00"),
    ("巧克力", "chocolate", "6.00"),
    ("草莓", "strawberry", "6.00"),
    ("抹茶", "matcha", "8.00"),
];
const BREAD: &[(&str, &str, &str)] = &[
    ("原味", "plain", "6.80"),
    ("红豆", "red bean", "7.80"),
    ("奶油", "cream", "8.80"),
];

const FAMILIES: &[Family] = &[
    (
        "农夫山泉",
        "Nongfu Spring water",
        "饮料 Drinks",
        "food",
        SIZES_WATER,
    ),
    (
        "怡宝纯净水",
        "C'estbon pure water",
        "饮料 Drinks",
        "food",
        SIZES_WATER,
    ),
    (
        "百岁山矿泉水",
        "Ganten mineral water",
        "饮料 Drinks",
        "food",
        SIZES_WATER,
    ),
    (
        "可口可乐",
        "Coca-Cola",
        "饮料 Drinks",
        "standard",
        SIZES_DRINK,
    ),
    (
        "零度可口可乐",
        "Coca-Cola Zero",
        "饮料 Drinks",
        "standard",
        SIZES_DRINK,
    ),
    ("百事可乐", "Pepsi", "饮料 Drinks", "standard", SIZES_DRINK),
    ("雪碧", "Sprite", "饮料 Drinks", "standard", SIZES_DRINK),
    (
        "芬达橙味",
        "Fanta Orange",
        "饮料 Drinks",
        "standard",
        SIZES_DRINK,
    ),
    ("七喜", "7 Up", "饮料 Drinks", "standard", SIZES_DRINK),
    (
        "屈臣氏苏打水",
        "Watsons soda water",
        "饮料 Drinks",
        "standard",
        SIZES_DRINK,
    ),
    ("美年达", "Mirinda", "饮料 Drinks", "standard", SIZES_DRINK),
    (
        "元气森林苏打气泡水",
        "Genki Forest sparkling water",
        "饮料 Drinks",
        "standard",
        SIZES_DRINK,
    ),
    (
        "脉动维生素饮料",
        "Mizone vitamin drink",
        "饮料 Drinks",
        "standard",
        SIZES_DRINK,
    ),
    (
        "康师傅冰红茶",
        "Master Kong iced black tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "康师傅绿茶",
        "Master Kong green tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "统一冰红茶",
        "Uni-President iced tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "东方树叶乌龙茶",
        "Oriental Leaf oolong tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "东方树叶茉莉花茶",
        "Oriental Leaf jasmine tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "三得利乌龙茶",
        "Suntory oolong tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "王老吉凉茶",
        "Wong Lo Kat herbal tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "维他柠檬茶",
        "Vita lemon tea",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "农夫果园混合果汁",
        "Nongfu Orchard mixed juice",
        "饮料 Drinks",
        "standard",
        TEA,
    ),
    (
        "雀巢即饮咖啡",
        "Nescafe ready-to-drink coffee",
        "饮料 Drinks",
        "standard",
        COFFEE,
    ),
    (
        "星巴克星冰乐",
        "Starbucks Frappuccino",
        "饮料 Drinks",
        "standard",
        COFFEE,
    ),
    (
        "瑞幸即饮咖啡",
        "Luckin ready-to-drink coffee",
        "饮料 Drinks",
        "standard",
        COFFEE,
    ),
    (
        "农夫山泉炭仌咖啡",
        "Nongfu Tanbing coffee",
        "饮料 Drinks",
        "standard",
        COFFEE,
    ),
    (
        "伊利巧乐兹雪糕",
        "Yili Qiaolezi ice cream bar",
        "冷冻 Frozen",
        "food",
        ICE_CREAM,
    ),
    (
        "和路雪可爱多",
        "Wall's Cornetto",
        "冷冻 Frozen",
        "food",
        ICE_CREAM,
    ),
    (
        "和路雪梦龙",
        "Wall's Magnum",
        "冷冻 Frozen",
        "food",
        ICE_CREAM,
    ),
    (
        "蒙牛随变",
        "Mengniu Suibian cone",
        "冷冻 Frozen",
        "food",
        ICE_CREAM,
    ),
    (
        "钟薛高雪糕",
        "Chicecream bar",
        "冷冻 Frozen",
        "food",
        ICE_CREAM,
    ),
    (
        "桃李醇熟切片面包",
        "Toly sliced bread",
        "面包 Bakery",
        "food",
        BREAD,
    ),
    ("宾堡面包", "Bimbo bread", "面包 Bakery", "food", BREAD),
    (
        "达利园软面包",
        "Daliyuan soft bread",
        "面包 Bakery",
        "food",
        BREAD,
    ),
    (
        "盼盼法式小面包",
        "Panpan French rolls",
        "面包 Bakery",
        "food",
        BREAD,
    ),
    (
        "蒙牛纯牛奶",
        "Mengniu whole milk",
        "乳品 Dairy",
        "food",
        DAIRY,
    ),
    ("伊利纯牛奶", "Yili whole milk", "乳品 Dairy", "food", DAIRY),
    (
        "特仑苏有机奶",
        "Deluxe organic milk",
        "乳品 Dairy",
        "food",
        DAIRY,
    ),
    (
        "维他奶原味豆奶",
        "Vitasoy soy milk",
        "乳品 Dairy",
        "food",
        DAIRY,
    ),
    (
        "安慕希希腊酸奶",
        "Ambrosial Greek yogurt",
        "乳品 Dairy",
        "food",
        DAIRY,
    ),
    (
        "青岛啤酒",
        "Tsingtao beer",
        "酒类 Alcohol",
        "standard",
        BEER,
    ),
    (
        "雪花啤酒勇闯天涯",
        "Snow beer Brave the World",
        "酒类 Alcohol",
        "standard",
        BEER,
    ),
    ("百威啤酒", "Budweiser", "酒类 Alcohol", "standard", BEER),
    ("燕京啤酒", "Yanjing beer", "酒类 Alcohol", "standard", BEER),
    (
        "乐事薯片",
        "Lay's potato chips",
        "零食 Snacks",
        "standard",
        FLAVOURS_CHIPS,
    ),
    (
        "可比克薯片",
        "Copico potato chips",
        "零食 Snacks",
        "standard",
        FLAVOURS_CHIPS,
    ),
    (
        "品客薯片",
        "Pringles",
        "零食 Snacks",
        "standard",
        FLAVOURS_CHIPS,
    ),
    (
        "上好佳鲜虾片",
        "Oishi prawn crackers",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "奥利奥夹心饼干",
        "Oreo cookies",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "旺旺雪饼",
        "Want Want rice crackers",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "旺旺仙贝",
        "Want Want senbei",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "德芙丝滑牛奶巧克力",
        "Dove milk chocolate",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "士力架花生夹心巧克力",
        "Snickers",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "好丽友巧克力派",
        "Orion Choco Pie",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "卫龙大面筋辣条",
        "Weilong spicy gluten strips",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "三只松鼠每日坚果",
        "Three Squirrels daily nuts",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "洽洽香瓜子",
        "ChaCheer sunflower seeds",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "大白兔奶糖",
        "White Rabbit milk candy",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "徐福记酥心糖",
        "Hsu Fu Chi crispy candy",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "绿箭口香糖",
        "Doublemint chewing gum",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "益达无糖口香糖",
        "Extra sugar-free gum",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "旺仔牛奶",
        "Want Want milk drink",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "喜之郎果冻",
        "Strong jelly cups",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "阿尔卑斯棒棒糖",
        "Alpenliebe lollipops",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "费列罗榛果巧克力",
        "Ferrero Rocher",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "脆香米巧克力",
        "Cuicuixiangmi chocolate",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "乐天木糖醇口香糖",
        "Lotte xylitol gum",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "良品铺子猪肉脯",
        "Bestore pork jerky",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "百草味芒果干",
        "Be&Cheery dried mango",
        "零食 Snacks",
        "standard",
        SWEETS,
    ),
    (
        "康师傅红烧牛肉面",
        "Master Kong braised beef noodles",
        "速食 Instant food",
        "food",
        NOODLES,
    ),
    (
        "康师傅香辣牛肉面",
        "Master Kong spicy beef noodles",
        "速食 Instant food",
        "food",
        NOODLES,
    ),
    (
        "统一老坛酸菜牛肉面",
        "Uni-President pickled cabbage beef noodles",
        "速食 Instant food",
        "food",
        NOODLES,
    ),
    (
        "今麦郎一菜一面",
        "Jinmailang veggie noodles",
        "速食 Instant food",
        "food",
        NOODLES,
    ),
    (
        "白象汤好喝方便面",
        "Baixiang soup noodles",
        "速食 Instant food",
        "food",
        NOODLES,
    ),
    (
        "日清合味道杯面",
        "Nissin Cup Noodles",
        "速食 Instant food",
        "food",
        NOODLES,
    ),
    (
        "心相印抽纸",
        "Hearttex facial tissues",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "维达手帕纸",
        "Vinda pocket tissues",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "高露洁牙膏",
        "Colgate toothpaste",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "佳洁士牙膏",
        "Crest toothpaste",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "海飞丝洗发水",
        "Head & Shoulders shampoo",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "舒肤佳香皂",
        "Safeguard soap",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "蓝月亮洗衣液",
        "Bluemoon laundry detergent",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "南孚碱性电池",
        "Nanfu alkaline batteries",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "晨光中性笔",
        "M&G gel pens",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "公牛数据线",
        "Bull charging cable",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "云南白药牙膏",
        "Yunnan Baiyao toothpaste",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "六神花露水",
        "Liushen floral water",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "威露士洗手液",
        "Walch hand wash",
        "日用品 Household",
        "standard",
        CARE,
    ),
    (
        "大宝SOD蜜",
        "Dabao SOD lotion",
        "日用品 Household",
        "standard",
        CARE,
    ),
    ("金枪鱼饭团", "Tuna onigiri", "鲜食 Fresh", "food", FRESH),
    (
        "照烧鸡肉饭团",
        "Teriyaki chicken onigiri",
        "鲜食 Fresh",
        "food",
        FRESH,
    ),
    (
        "火腿鸡蛋三明治",
        "Ham and egg sandwich",
        "鲜食 Fresh",
        "food",
        FRESH,
    ),
    ("金枪鱼三明治", "Tuna sandwich", "鲜食 Fresh", "food", FRESH),
    ("鲜肉大包", "Pork bun", "鲜食 Fresh", "food", FRESH),
    (
        "香菇菜包",
        "Mushroom and vegetable bun",
        "鲜食 Fresh",
        "food",
        FRESH,
    ),
    ("茶叶蛋", "Tea egg", "鲜食 Fresh", "food", FRESH),
    ("烤肠", "Grilled sausage", "鲜食 Fresh", "food", FRESH),
];

/// Fruit, nuts and other goods sold by weight, with the scale PLU on their labels.
const WEIGHED: &[(&str, &str, &str, &str)] = &[
    ("00042", "红富士苹果", "Fuji apples", "12.98"),
    ("00043", "香蕉", "Bananas", "6.98"),
    ("00044", "砂糖橘", "Shatang mandarins", "9.98"),
    ("00045", "巨峰葡萄", "Kyoho grapes", "19.80"),
    ("00046", "散装核桃", "Loose walnuts", "39.80"),
    ("00047", "散装花生", "Loose peanuts", "18.80"),
    ("00048", "关东煮", "Oden", "28.00"),
];

/// Counter goods without barcodes, sold from the quick keys: (internal code, zh, en, price).
const COUNTER: &[(&str, &str, &str, &str)] = &[
    ("K01", "现磨咖啡 美式", "Fresh Americano", "12.00"),
    ("K02", "现磨咖啡 拿铁", "Fresh latte", "15.00"),
    ("K03", "热豆浆", "Hot soy milk", "3.00"),
    ("K04", "油条", "Youtiao", "2.50"),
    ("K05", "关东煮 萝卜", "Oden radish", "2.00"),
    ("K06", "关东煮 鱼丸", "Oden fish balls", "3.50"),
    ("K07", "玉米棒", "Sweet corn", "4.00"),
    ("K08", "糯米鸡", "Sticky rice chicken", "6.50"),
];

/// The demo's staff: (ID, name, PIN). The first is a cashier, the second a manager.
pub const DEMO_CASHIER: (&str, &str, &str) = ("1001", "王芳", "1234");
pub const DEMO_MANAGER: (&str, &str, &str) = ("9001", "李店长", "9999");

/// A demo member: (ID, name, tier, points, phone, card number, active).
pub type DemoMember = (
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static str,
    Option<&'static str>,
    bool,
);

pub const DEMO_MEMBERS: &[DemoMember] = &[
    (
        "10086",
        "王小明",
        "金卡",
        1280,
        "13812345678",
        Some("8800010086"),
        true,
    ),
    ("10087", "陈静", "银卡", 320, "13987654321", None, true),
    ("10088", "刘洋", "普通", 0, "13700001111", None, false),
];

/// The demo's quick keys: the counter goods, then four best sellers.
pub fn demo_quick_keys() -> Vec<String> {
    let mut keys: Vec<String> = COUNTER.iter().map(|(code, ..)| code.to_string()).collect();
    for name in [
        "农夫山泉 550ml",
        "可口可乐 500ml",
        "康师傅红烧牛肉面 桶装",
        "乐事薯片 原味 70g",
    ] {
        keys.extend(sample_code(name));
    }
    keys
}

/// Sets up a demo terminal in `data_dir` (store S001, terminal T01): config, database, the
/// sample catalog, the demo staff and quick keys. `printer` is a printer address, if any.
pub fn create_terminal(data_dir: &std::path::Path, printer: Option<String>) -> anyhow::Result<()> {
    use crate::config::{CONFIG_FILE, Config, DATABASE_FILE, PrinterConfig};
    use crate::store::{Role, StaffMember, Store};
    use till_domain::{Currency, TaxMode};
    let mut config = Config::new("S001", "T01", Currency::CNY, TaxMode::Inclusive);
    config.store_name = "Till 便利店".into();
    config.store_address = "人民广场店 · 上海市黄浦区人民大道 100 号".into();
    config.tax_id = "91310101MA1FP0000X".into();
    config.printer = printer.map(|address| PrinterConfig {
        address,
        baud: 9600,
        columns: 32,
        encoding: "gb18030".into(),
        language: Default::default(),
    });
    config.ui.quick_keys = demo_quick_keys();
    config.scan.member_card_prefix = Some("88".into());
    config.validate()?;
    std::fs::create_dir_all(data_dir)?;
    let mut store = Store::create(&data_dir.join(DATABASE_FILE), "S001", "T01", Currency::CNY)?;
    std::fs::write(data_dir.join(CONFIG_FILE), config.to_toml())?;
    let settings = crate::checkout::CheckoutSettings::from_config(&config)?;
    let rules = crate::catalog::ImportRules::for_terminal(&settings, false, 0);
    let report =
        crate::catalog::import_csv(&mut store, sample_catalog_csv().as_bytes(), &rules, |_| {})?;
    anyhow::ensure!(
        report.committed,
        "the sample catalog did not import: {:?}",
        report.rejected
    );
    for ((id, name, pin), role) in [(DEMO_CASHIER, Role::Cashier), (DEMO_MANAGER, Role::Manager)] {
        let member = StaffMember {
            id: id.into(),
            name: name.into(),
            role,
        };
        store.add_staff(&member, &crate::staff::hash_pin(pin)?)?;
    }
    // A demo-only member key (HQ issues real ones from a CSPRNG): the SHA-256 of a fresh
    // UUIDv7, unique per demo, so `till member code` and the claim QR codes work.
    let seed = uuid::Uuid::now_v7();
    let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()).into();
    store.add_member_key(&till_sync::member::MemberKey::from_bytes(digest))?;
    for (id, name, tier, points, phone, card, active) in DEMO_MEMBERS {
        store.upsert_member(&crate::store::MemberRecord {
            member_id: id.to_string(),
            display_name: name.to_string(),
            tier: tier.to_string(),
            points: *points,
            phone: Some(till_sync::member::Phone::parse(phone)?),
            card_number: card.map(str::to_string),
            active: *active,
        })?;
    }
    Ok(())
}

/// A valid EAN-13 in the 690–695 (China) range, unique per `index`.
pub fn sample_ean13(index: usize) -> String {
    let body = format!("69{}{:09}", index % 6, 123_400_000 + index);
    let body = &body[..12];
    format!("{body}{}", check_digit(body.as_bytes()))
}

/// The sample catalog as a CSV in the import format (over 300 products).
pub fn sample_catalog_csv() -> String {
    let mut csv = String::from(
        "sku,barcodes,name_zh,name_en,price,tax_class,department,weighed,active,plu\n",
    );
    let mut index = 0;
    for (zh, en, department, tax, variants) in FAMILIES {
        for (vzh, ven, price) in *variants {
            index += 1;
            let sep = |s: &str| {
                if s.is_empty() {
                    String::new()
                } else {
                    format!(" {s}")
                }
            };
            let _ = writeln!(
                csv,
                "{},{},{zh}{},\"{en}{}\",{price},{tax},{department},0,1,",
                100_000 + index,
                sample_ean13(index),
                sep(vzh),
                sep(ven),
            );
        }
    }
    for (plu, zh, en, price) in WEIGHED {
        let _ = writeln!(csv, "2{plu},,{zh},{en},{price},food,生鲜 Produce,1,1,{plu}");
    }
    for (code, zh, en, price) in COUNTER {
        let _ = writeln!(
            csv,
            "3{},{code},{zh},{en},{price},food,熟食 Counter,0,1,",
            &code[1..]
        );
    }
    csv
}

/// The EAN-13 of the sample product with this exact Chinese name.
pub fn sample_code(name_zh: &str) -> Option<String> {
    let mut index = 0;
    for (zh, _, _, _, variants) in FAMILIES {
        for (vzh, _, _) in *variants {
            index += 1;
            let full = if vzh.is_empty() {
                zh.to_string()
            } else {
                format!("{zh} {vzh}")
            };
            if full == name_zh {
                return Some(sample_ean13(index));
            }
        }
    }
    None
}

/// A demo basket: two bottles of water, a cola, crisps, a cup of noodles, and apples weighed
/// on the scale (a prefix-22 label: PLU 00042, 356 g).
pub fn sample_scans() -> Vec<String> {
    let apples = {
        let body = "220004200356";
        format!("{body}{}", check_digit(body.as_bytes()))
    };
    let water = sample_code("农夫山泉 550ml").unwrap_or_default();
    let mut scans = vec![water.clone(), water];
    for name in [
        "可口可乐 500ml",
        "乐事薯片 黄瓜味 70g",
        "康师傅红烧牛肉面 桶装",
    ] {
        scans.extend(sample_code(name));
    }
    scans.push(apples);
    scans
}

#[cfg(test)]
mod tests {
    use super::*;
    use till_domain::Gtin;

    #[test]
    fn sample_catalog_has_over_300_products_with_valid_unique_codes() {
        let csv = sample_catalog_csv();
        let rows = csv.lines().count() - 1;
        assert!(rows >= 300, "{rows} products");
        assert_eq!(sample_scans().len(), 6, "every demo basket item exists");
        let mut codes = std::collections::HashSet::new();
        for i in 1..=rows {
            let code = sample_ean13(i);
            assert!(Gtin::parse(&code).is_ok(), "{code}");
            assert!(codes.insert(code));
        }
    }
}
