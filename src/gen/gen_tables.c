/*
 * gen_tables.c — the static tables of the synthetic city. The numbers are
 * approximations of published figures, rounded, good enough for test data
 * that looks like Ho Chi Minh City; they are not statistics. Each table
 * names what it approximates.
 */
#include "gen_int.h"

#define N_OF(t) (sizeof(t) / sizeof((t)[0]))

/* Age structure: HCMC's population pyramid in the 2019 Population and
 * Housing Census (GSO, "Kết quả toàn bộ Tổng điều tra dân số và nhà ở 2019"),
 * per 1000, read off the published pyramid and rounded: a bulge of migrant
 * workers aged 20-39, few under 15 compared with the national pyramid.
 * Approximate. */
const unsigned gen_age_band_weight[GEN_AGE_BANDS] = {
	70, 68, 58, 55, 85, 102, 98, 88, 78, 68, 60, 52, 42, 30, 18, 11, 9, 8,
};
/* Sex ratio: about 95 men per 100 women in HCMC (census 2019). */
const double gen_male_share = 0.487;

/* Family names: published frequency estimates for Vietnam (Nguyễn ~31%,
 * Trần ~11%, Lê ~9.5%, Phạm ~7%, Huỳnh/Hoàng ~5%, Võ/Vũ ~4%, ...; e.g. the
 * figures collected on Wikipedia "Vietnamese name", after Lê Trung Hoa,
 * "Họ và tên người Việt Nam", 2005), with the southern forms (Huỳnh, Võ)
 * ahead of the northern ones (Hoàng, Vũ) as in HCMC. Per 10,000. */
const struct gen_weighted gen_family_names[] = {
	{ "Nguyễn", 3100 }, { "Trần", 1100 }, { "Lê", 950 }, { "Phạm", 700 },
	{ "Huỳnh", 320 }, { "Hoàng", 180 }, { "Võ", 260 }, { "Vũ", 140 },
	{ "Phan", 450 }, { "Trương", 200 }, { "Bùi", 250 }, { "Đặng", 250 },
	{ "Đỗ", 200 }, { "Ngô", 180 }, { "Hồ", 180 }, { "Dương", 150 },
	{ "Lý", 100 }, { "Đinh", 100 }, { "Lâm", 100 }, { "Mai", 80 },
	{ "Trịnh", 70 }, { "Đoàn", 80 }, { "Lương", 70 }, { "Cao", 60 },
	{ "Châu", 30 }, { "Hà", 60 }, { "Lưu", 30 }, { "Tô", 30 },
	{ "Thái", 30 }, { "La", 20 }, { "Tạ", 20 }, { "Quách", 20 },
	{ "Tăng", 20 }, { "Kiều", 10 }, { "Văn", 10 }, { "Triệu", 20 },
	{ "Vương", 40 }, { "Phùng", 30 }, { "Từ", 20 }, { "Chu", 20 },
	{ "Giang", 20 }, { "Diệp", 20 }, { "Hứa", 20 }, { "Đàm", 20 },
	{ "Nông", 20 }, { "Mạc", 10 }, { "Âu", 10 }, { "Thân", 10 },
	{ "Ông", 10 }, { "Trang", 10 }, { "Tôn", 10 }, { "Doãn", 10 },
	{ "Lạc", 10 }, { "Lữ", 10 }, { "Nghiêm", 10 }, { "Quan", 10 },
	{ "Kim", 10 },
};
const size_t gen_n_family_names = N_OF(gen_family_names);

/* Middle names (tên đệm): "Văn" for men and "Thị" for women dominate older
 * generations and are much rarer among people born since about 1990; the
 * weights are rough estimates from name lists, not a survey. */
const struct gen_weighted gen_middle_male_old[] = {
	{ "Văn", 500 }, { "Minh", 80 }, { "Quốc", 60 }, { "Thanh", 60 }, { "Hữu", 60 },
	{ "Đức", 50 }, { "Công", 50 }, { "Ngọc", 40 }, { "Hoàng", 40 }, { "Xuân", 30 },
	{ "Anh", 30 },
};
const struct gen_weighted gen_middle_male_young[] = {
	{ "Văn", 150 }, { "Minh", 140 }, { "Quốc", 80 }, { "Gia", 90 }, { "Hoàng", 80 },
	{ "Đức", 70 }, { "Thanh", 60 }, { "Anh", 70 }, { "Tuấn", 50 }, { "Bảo", 60 },
	{ "Nhật", 50 }, { "Trọng", 40 },
};
const struct gen_weighted gen_middle_female_old[] = {
	{ "Thị", 600 }, { "Ngọc", 90 }, { "Thanh", 70 }, { "Kim", 60 }, { "Thu", 50 },
	{ "Mỹ", 40 }, { "Hồng", 40 }, { "Bích", 30 }, { "Xuân", 30 },
};
const struct gen_weighted gen_middle_female_young[] = {
	{ "Thị", 200 }, { "Ngọc", 130 }, { "Thanh", 80 }, { "Bảo", 70 }, { "Gia", 60 },
	{ "Khánh", 60 }, { "Mỹ", 60 }, { "Phương", 60 }, { "Hoài", 40 }, { "Minh", 60 },
	{ "Thảo", 40 }, { "Kim", 40 },
};
const size_t gen_n_middle_male_old = N_OF(gen_middle_male_old);
const size_t gen_n_middle_male_young = N_OF(gen_middle_male_young);
const size_t gen_n_middle_female_old = N_OF(gen_middle_female_old);
const size_t gen_n_middle_female_young = N_OF(gen_middle_female_young);

/* Given names: common names in HCMC, weights rough (the most common first). */
const struct gen_weighted gen_given_male[] = {
	{ "Minh", 60 }, { "Hùng", 50 }, { "Dũng", 45 }, { "Tuấn", 50 }, { "Nam", 45 },
	{ "Hải", 40 }, { "Long", 40 }, { "Phúc", 35 }, { "Huy", 40 }, { "Khoa", 30 },
	{ "Khang", 30 }, { "Bảo", 30 }, { "Thành", 35 }, { "Tài", 25 }, { "Phong", 30 },
	{ "Trung", 30 }, { "Hiếu", 30 }, { "Quân", 30 }, { "Đạt", 30 }, { "Vinh", 25 },
	{ "Sơn", 30 }, { "Thắng", 25 }, { "Tâm", 25 }, { "Toàn", 20 }, { "Kiệt", 20 },
	{ "Lộc", 20 }, { "Nhân", 20 }, { "Duy", 25 }, { "An", 25 }, { "Tùng", 20 },
	{ "Cường", 25 }, { "Hưng", 25 }, { "Thịnh", 20 }, { "Khôi", 20 }, { "Đức", 25 },
	{ "Quang", 25 }, { "Nghĩa", 20 }, { "Tú", 15 }, { "Phát", 20 }, { "Trí", 20 },
};
const struct gen_weighted gen_given_female[] = {
	{ "Linh", 50 }, { "Hương", 45 }, { "Lan", 40 }, { "Mai", 40 }, { "Hồng", 35 },
	{ "Trang", 45 }, { "Thảo", 45 }, { "Ngọc", 35 }, { "Anh", 40 }, { "Vy", 35 },
	{ "Hà", 30 }, { "Nhung", 25 }, { "Hạnh", 25 }, { "Phương", 30 }, { "Thủy", 30 },
	{ "Yến", 25 }, { "Hoa", 25 }, { "Nga", 25 }, { "Dung", 25 }, { "Loan", 20 },
	{ "Tuyết", 20 }, { "Oanh", 20 }, { "Trinh", 20 }, { "My", 25 }, { "Nhi", 30 },
	{ "Hân", 25 }, { "Uyên", 25 }, { "Thư", 25 }, { "Ngân", 25 }, { "Trâm", 20 },
	{ "Quỳnh", 20 }, { "Tiên", 20 }, { "Giang", 20 }, { "Châu", 15 }, { "Diễm", 15 },
	{ "Thu", 20 }, { "Vân", 20 }, { "Hằng", 25 }, { "Xuân", 15 }, { "Như", 20 },
};
const size_t gen_n_given_male = N_OF(gen_given_male);
const size_t gen_n_given_female = N_OF(gen_given_female);

/* Province of birth registration: the 3-digit codes of the (pre-2025)
 * provinces as used by the CCCD (079 HCMC, 074 Bình Dương and 077 Bà Rịa -
 * Vũng Tàu, now part of HCMC), weighted after the 2019 census: about a
 * third of HCMC's residents were born elsewhere, mostly in the Mekong Delta
 * and the Central Coast. Approximate. */
const struct gen_weighted gen_birth_provinces[] = {
	{ "079", 600 }, { "074", 50 }, { "077", 30 }, { "075", 20 }, { "080", 25 },
	{ "082", 25 }, { "083", 20 }, { "084", 15 }, { "086", 15 }, { "087", 15 },
	{ "089", 20 }, { "091", 15 }, { "092", 15 }, { "094", 15 }, { "096", 15 },
	{ "051", 15 }, { "052", 15 }, { "049", 12 }, { "040", 15 }, { "038", 12 },
	{ "042", 10 }, { "066", 10 }, { "068", 8 }, { "072", 10 }, { "001", 8 },
};
const size_t gen_n_birth_provinces = N_OF(gen_birth_provinces);
_Static_assert(N_OF(gen_birth_provinces) <= GEN_MAX_BIRTH_PROVINCES,
	       "struct gen keeps a CCCD table row per province (GEN_CCCD_PREFIXES)");

/* The 168 commune-level units of HCMC from 01/07/2025 (NQ 1685/NQ-UBTVQH15:
 * 113 phường, 54 xã, Đặc khu Côn Đảo) with their codes in the national list,
 * QĐ 19/2025/QĐ-TTg, by code. Read from the GSO's danhmuchanhchinh.nso.gov.vn
 * list as two public datasets carry it, which agree on all 168 codes; the
 * government's June 2025 draft differs for 10 of them (decision 0031). */
const struct gen_ward gen_wards[] = {
	{ "25747", "Phường Thủ Dầu Một" },
	{ "25750", "Phường Phú Lợi" },
	{ "25760", "Phường Bình Dương" },
	{ "25768", "Phường Phú An" },
	{ "25771", "Phường Chánh Hiệp" },
	{ "25777", "Xã Dầu Tiếng" },
	{ "25780", "Xã Minh Thạnh" },
	{ "25792", "Xã Long Hòa" },
	{ "25807", "Xã Thanh An" },
	{ "25813", "Phường Bến Cát" },
	{ "25819", "Xã Trừ Văn Thố" },
	{ "25822", "Xã Bàu Bàng" },
	{ "25837", "Phường Chánh Phú Hòa" },
	{ "25840", "Phường Long Nguyên" },
	{ "25843", "Phường Tây Nam" },
	{ "25846", "Phường Thới Hòa" },
	{ "25849", "Phường Hòa Lợi" },
	{ "25858", "Xã Phú Giáo" },
	{ "25864", "Xã Phước Thành" },
	{ "25867", "Xã An Long" },
	{ "25882", "Xã Phước Hòa" },
	{ "25888", "Phường Tân Uyên" },
	{ "25891", "Phường Tân Khánh" },
	{ "25906", "Xã Bắc Tân Uyên" },
	{ "25909", "Xã Thường Tân" },
	{ "25912", "Phường Vĩnh Tân" },
	{ "25915", "Phường Bình Cơ" },
	{ "25920", "Phường Tân Hiệp" },
	{ "25942", "Phường Dĩ An" },
	{ "25945", "Phường Tân Đông Hiệp" },
	{ "25951", "Phường Đông Hòa" },
	{ "25966", "Phường Lái Thiêu" },
	{ "25969", "Phường Thuận Giao" },
	{ "25975", "Phường An Phú" },
	{ "25978", "Phường Thuận An" },
	{ "25987", "Phường Bình Hòa" },
	{ "26506", "Phường Vũng Tàu" },
	{ "26526", "Phường Tam Thắng" },
	{ "26536", "Phường Rạch Dừa" },
	{ "26542", "Phường Phước Thắng" },
	{ "26545", "Xã Long Sơn" },
	{ "26560", "Phường Bà Rịa" },
	{ "26566", "Phường Long Hương" },
	{ "26572", "Phường Tam Long" },
	{ "26575", "Xã Ngãi Giao" },
	{ "26584", "Xã Xuân Sơn" },
	{ "26590", "Xã Bình Giã" },
	{ "26596", "Xã Châu Đức" },
	{ "26608", "Xã Kim Long" },
	{ "26617", "Xã Nghĩa Thành" },
	{ "26620", "Xã Hồ Tràm" },
	{ "26632", "Xã Xuyên Mộc" },
	{ "26638", "Xã Bàu Lâm" },
	{ "26641", "Xã Hòa Hội" },
	{ "26647", "Xã Hòa Hiệp" },
	{ "26656", "Xã Bình Châu" },
	{ "26659", "Xã Long Điền" },
	{ "26662", "Xã Long Hải" },
	{ "26680", "Xã Đất Đỏ" },
	{ "26686", "Xã Phước Hải" },
	{ "26704", "Phường Phú Mỹ" },
	{ "26710", "Phường Tân Hải" },
	{ "26713", "Phường Tân Phước" },
	{ "26725", "Phường Tân Thành" },
	{ "26728", "Xã Châu Pha" },
	{ "26732", "Đặc khu Côn Đảo" },
	{ "26737", "Phường Tân Định" },
	{ "26740", "Phường Sài Gòn" },
	{ "26743", "Phường Bến Thành" },
	{ "26758", "Phường Cầu Ông Lãnh" },
	{ "26767", "Phường An Phú Đông" },
	{ "26773", "Phường Thới An" },
	{ "26782", "Phường Tân Thới Hiệp" },
	{ "26785", "Phường Trung Mỹ Tây" },
	{ "26791", "Phường Đông Hưng Thuận" },
	{ "26800", "Phường Linh Xuân" },
	{ "26803", "Phường Tam Bình" },
	{ "26809", "Phường Hiệp Bình" },
	{ "26824", "Phường Thủ Đức" },
	{ "26833", "Phường Long Bình" },
	{ "26842", "Phường Tăng Nhơn Phú" },
	{ "26848", "Phường Phước Long" },
	{ "26857", "Phường Long Phước" },
	{ "26860", "Phường Long Trường" },
	{ "26876", "Phường An Nhơn" },
	{ "26878", "Phường An Hội Đông" },
	{ "26882", "Phường An Hội Tây" },
	{ "26884", "Phường Gò Vấp" },
	{ "26890", "Phường Hạnh Thông" },
	{ "26898", "Phường Thông Tây Hội" },
	{ "26905", "Phường Bình Lợi Trung" },
	{ "26911", "Phường Bình Quới" },
	{ "26929", "Phường Bình Thạnh" },
	{ "26944", "Phường Gia Định" },
	{ "26956", "Phường Thạnh Mỹ Tây" },
	{ "26968", "Phường Tân Sơn Nhất" },
	{ "26977", "Phường Tân Sơn Hòa" },
	{ "26983", "Phường Bảy Hiền" },
	{ "26995", "Phường Tân Hòa" },
	{ "27004", "Phường Tân Bình" },
	{ "27007", "Phường Tân Sơn" },
	{ "27013", "Phường Tây Thạnh" },
	{ "27019", "Phường Tân Sơn Nhì" },
	{ "27022", "Phường Phú Thọ Hòa" },
	{ "27028", "Phường Phú Thạnh" },
	{ "27031", "Phường Tân Phú" },
	{ "27043", "Phường Đức Nhuận" },
	{ "27058", "Phường Cầu Kiệu" },
	{ "27073", "Phường Phú Nhuận" },
	{ "27094", "Phường An Khánh" },
	{ "27097", "Phường Bình Trưng" },
	{ "27112", "Phường Cát Lái" },
	{ "27139", "Phường Xuân Hòa" },
	{ "27142", "Phường Nhiêu Lộc" },
	{ "27154", "Phường Bàn Cờ" },
	{ "27163", "Phường Hòa Hưng" },
	{ "27169", "Phường Diên Hồng" },
	{ "27190", "Phường Vườn Lài" },
	{ "27211", "Phường Hòa Bình" },
	{ "27226", "Phường Phú Thọ" },
	{ "27232", "Phường Bình Thới" },
	{ "27238", "Phường Minh Phụng" },
	{ "27259", "Phường Xóm Chiếu" },
	{ "27265", "Phường Khánh Hội" },
	{ "27286", "Phường Vĩnh Hội" },
	{ "27301", "Phường Chợ Quán" },
	{ "27316", "Phường An Đông" },
	{ "27343", "Phường Chợ Lớn" },
	{ "27349", "Phường Phú Lâm" },
	{ "27364", "Phường Bình Phú" },
	{ "27367", "Phường Bình Tây" },
	{ "27373", "Phường Bình Tiên" },
	{ "27418", "Phường Chánh Hưng" },
	{ "27424", "Phường Bình Đông" },
	{ "27427", "Phường Phú Định" },
	{ "27439", "Phường Bình Hưng Hòa" },
	{ "27442", "Phường Bình Tân" },
	{ "27448", "Phường Bình Trị Đông" },
	{ "27457", "Phường Tân Tạo" },
	{ "27460", "Phường An Lạc" },
	{ "27475", "Phường Tân Hưng" },
	{ "27478", "Phường Tân Thuận" },
	{ "27484", "Phường Phú Thuận" },
	{ "27487", "Phường Tân Mỹ" },
	{ "27496", "Xã Tân An Hội" },
	{ "27508", "Xã An Nhơn Tây" },
	{ "27511", "Xã Nhuận Đức" },
	{ "27526", "Xã Thái Mỹ" },
	{ "27541", "Xã Phú Hòa Đông" },
	{ "27544", "Xã Bình Mỹ" },
	{ "27553", "Xã Củ Chi" },
	{ "27559", "Xã Hóc Môn" },
	{ "27568", "Xã Đông Thạnh" },
	{ "27577", "Xã Xuân Thới Sơn" },
	{ "27592", "Xã Bà Điểm" },
	{ "27595", "Xã Tân Nhựt" },
	{ "27601", "Xã Vĩnh Lộc" },
	{ "27604", "Xã Tân Vĩnh Lộc" },
	{ "27610", "Xã Bình Lợi" },
	{ "27619", "Xã Bình Hưng" },
	{ "27628", "Xã Hưng Long" },
	{ "27637", "Xã Bình Chánh" },
	{ "27655", "Xã Nhà Bè" },
	{ "27658", "Xã Hiệp Phước" },
	{ "27664", "Xã Cần Giờ" },
	{ "27667", "Xã Bình Khánh" },
	{ "27673", "Xã An Thới Đông" },
	{ "27676", "Xã Thạnh An" },
};
const size_t gen_n_wards = N_OF(gen_wards);
_Static_assert(N_OF(gen_wards) == GEN_N_WARDS, "HCMC has 168 commune-level units");

/* Street names: well-known HCMC streets, uniform-ish. */
const struct gen_weighted gen_streets[] = {
	{ "Lê Lợi", 1 }, { "Nguyễn Huệ", 1 }, { "Hai Bà Trưng", 2 }, { "Trần Hưng Đạo", 2 },
	{ "Nguyễn Trãi", 2 }, { "Cách Mạng Tháng Tám", 2 }, { "Điện Biên Phủ", 2 },
	{ "Võ Văn Tần", 1 }, { "Nguyễn Thị Minh Khai", 2 }, { "Lý Thường Kiệt", 2 },
	{ "Phan Đăng Lưu", 1 }, { "Hoàng Văn Thụ", 1 }, { "Lê Văn Sỹ", 2 }, { "Nguyễn Văn Cừ", 1 },
	{ "Phạm Văn Đồng", 2 }, { "Quang Trung", 2 }, { "Nguyễn Oanh", 1 }, { "Kinh Dương Vương", 2 },
	{ "Âu Cơ", 2 }, { "Lũy Bán Bích", 1 }, { "Cộng Hòa", 2 }, { "Trường Chinh", 2 },
	{ "Xô Viết Nghệ Tĩnh", 1 }, { "Nguyễn Văn Linh", 2 }, { "Huỳnh Tấn Phát", 2 },
	{ "Võ Văn Ngân", 1 }, { "Lê Văn Việt", 2 }, { "Nguyễn Duy Trinh", 1 }, { "Tô Ký", 1 },
	{ "Nguyễn Ảnh Thủ", 1 }, { "Tỉnh lộ 10", 1 }, { "Đại lộ Bình Dương", 2 },
};
const size_t gen_n_streets = N_OF(gen_streets);

/* Mobile number prefixes (10 digits since 2018) of Viettel, Vinaphone,
 * MobiFone, Vietnamobile; weights after the operators' rough market shares. */
const struct gen_weighted gen_phone_prefixes[] = {
	{ "086", 4 }, { "096", 6 }, { "097", 6 }, { "098", 6 }, { "032", 3 }, { "033", 3 },
	{ "034", 3 }, { "035", 3 }, { "036", 3 }, { "037", 3 }, { "038", 3 }, { "039", 3 },
	{ "091", 5 }, { "094", 5 }, { "088", 3 }, { "083", 2 }, { "084", 2 }, { "085", 2 },
	{ "090", 6 }, { "093", 6 }, { "089", 3 }, { "070", 2 }, { "079", 2 }, { "077", 2 },
	{ "076", 2 }, { "078", 2 }, { "056", 1 }, { "058", 1 },
};
const size_t gen_n_phone_prefixes = N_OF(gen_phone_prefixes);

/* Hospitals. Issue 7 gives the counts (164: 60 public city-run, 14 run by a
 * ministry, 90 private); the real, well-known names below come first and
 * the rest of each group are numbered sample hospitals ("mẫu"). */
const char *const gen_hospitals_city[] = {
	"Bệnh viện Nhân dân 115", "Bệnh viện Nhân dân Gia Định", "Bệnh viện Nguyễn Tri Phương",
	"Bệnh viện Trưng Vương", "Bệnh viện An Bình", "Bệnh viện Nguyễn Trãi",
	"Bệnh viện Từ Dũ", "Bệnh viện Hùng Vương", "Bệnh viện Nhi Đồng 1", "Bệnh viện Nhi Đồng 2",
	"Bệnh viện Nhi đồng Thành phố", "Bệnh viện Chấn thương Chỉnh hình",
	"Bệnh viện Bệnh Nhiệt đới", "Bệnh viện Phạm Ngọc Thạch", "Bệnh viện Ung Bướu",
	"Bệnh viện Mắt", "Bệnh viện Tai Mũi Họng", "Bệnh viện Răng Hàm Mặt", "Bệnh viện Da Liễu",
	"Bệnh viện Tâm thần", "Bệnh viện Y học cổ truyền", "Bệnh viện Truyền máu Huyết học",
	"Bệnh viện Bình Dân", "Bệnh viện Nhân Ái", "Bệnh viện Đa khoa Sài Gòn",
	"Bệnh viện Thủ Đức", "Bệnh viện Lê Văn Thịnh", "Bệnh viện Đa khoa khu vực Hóc Môn",
	"Bệnh viện Đa khoa khu vực Củ Chi", "Bệnh viện Bà Rịa", "Bệnh viện Vũng Tàu",
};
const size_t gen_n_hospitals_city = N_OF(gen_hospitals_city);
const char *const gen_hospitals_ministry[] = {
	"Bệnh viện Chợ Rẫy", "Bệnh viện Thống Nhất", "Bệnh viện Đại học Y Dược TP.HCM",
	"Bệnh viện Răng Hàm Mặt Trung ương TP.HCM", "Bệnh viện Quân y 175", "Bệnh viện 30-4",
};
const size_t gen_n_hospitals_ministry = N_OF(gen_hospitals_ministry);
const char *const gen_hospitals_private[] = {
	"Bệnh viện FV", "Bệnh viện Hoàn Mỹ Sài Gòn", "Bệnh viện Vinmec Central Park",
	"Bệnh viện Tâm Anh TP.HCM", "Bệnh viện Quốc tế City", "Bệnh viện Đa khoa Tân Hưng",
	"Bệnh viện Xuyên Á", "Bệnh viện Triều An", "Bệnh viện Vạn Hạnh", "Bệnh viện Hoàn Mỹ Thủ Đức",
	"Bệnh viện Quốc tế Mỹ", "Bệnh viện Gia An 115", "Bệnh viện Mắt Sài Gòn",
};
const size_t gen_n_hospitals_private = N_OF(gen_hospitals_private);

/* Prevalence per 1000 by age group (0-14, 15-39, 40-59, 60+). Sources,
 * rounded and approximate: hypertension and diabetes after the Vietnam
 * STEPS survey 2021 (WHO/MoH: hypertension 26% and diabetes 7% of people
 * aged 18-69, rising steeply with age); dyslipidaemia after Vietnamese
 * cross-sectional studies (roughly a third of adults over 40); COPD, asthma,
 * CKD, IHD and stroke after the Global Burden of Disease estimates for
 * Vietnam; chronic hepatitis B after the WHO's HBsAg prevalence for Vietnam
 * (about 8% of adults); TB after WHO's incidence (~170 per 100,000 a year);
 * dengue: cases seen over five years in a southern city, mostly children
 * and young adults, in the rainy season (June to November). */
const struct gen_condition gen_conditions[GEN_N_CONDITIONS] = {
	[GEN_I10] = { "I10", "Tăng huyết áp vô căn (nguyên phát)", { 0, 60, 300, 500 }, 1 },
	[GEN_E11] = { "E11", "Bệnh đái tháo đường type 2", { 0, 15, 90, 170 }, 1 },
	[GEN_E78] = { "E78", "Rối loạn chuyển hóa lipoprotein và tình trạng tăng lipid máu",
		      { 0, 60, 300, 350 }, 1 },
	[GEN_J44] = { "J44", "Bệnh phổi tắc nghẽn mạn tính khác", { 0, 2, 30, 80 }, 1 },
	[GEN_J45] = { "J45", "Hen [suyễn]", { 50, 30, 35, 40 }, 1 },
	[GEN_N18] = { "N18", "Bệnh thận mạn", { 1, 10, 50, 120 }, 1 },
	[GEN_I25] = { "I25", "Bệnh tim thiếu máu cục bộ mạn", { 0, 2, 25, 80 }, 1 },
	[GEN_I63] = { "I63", "Nhồi máu não", { 0, 1, 10, 35 }, 1 },
	[GEN_B18_1] = { "B18.1", "Viêm gan virus B mạn, không có đồng nhiễm viêm gan D",
			{ 10, 70, 85, 60 }, 1 },
	[GEN_A15] = { "A15", "Lao hô hấp, có xác nhận về vi khuẩn học và mô học",
		      { 2, 7, 10, 12 }, 0 },
	[GEN_A90] = { "A90", "Sốt Dengue [sốt xuất huyết Dengue cổ điển]", { 60, 45, 15, 8 }, 0 },
	/* Pregnancy and delivery: not drawn by prevalence (see the pregnancy
	 * rates below). Vietnamese displays are our rendering of the MoH's
	 * ICD-10 titles, approximate. */
	[GEN_Z34] = { "Z34", "Giám sát thai nghén bình thường", { 0, 0, 0, 0 }, 0 },
	[GEN_O24_4] = { "O24.4", "Đái tháo đường phát sinh trong thời kỳ có thai", { 0, 0, 0, 0 }, 0 },
	[GEN_O80] = { "O80", "Đẻ thường một thai", { 0, 0, 0, 0 }, 0 },
	[GEN_O82] = { "O82", "Đẻ một thai bằng mổ lấy thai", { 0, 0, 0, 0 }, 0 },
};

/* Drugs. ATC codes and names from the WHO Collaborating Centre's ATC/DDD
 * index (http://www.whocc.no/atc); the Vietnamese names, strengths and
 * dosages are what a prescription at a district hospital or commune
 * station commonly says (Vietnamese INN spelling: "Amlodipin",
 * "Gliclazid"), picked from the MoH's essential-medicines and BHYT-covered
 * lists as we understand them. Illustrative, not prescribing advice. */
const struct gen_drug gen_drugs[GEN_N_DRUGS] = {
	[GEN_DRUG_NONE] = { "", "", "", "", 0 },
	[GEN_AMLODIPINE] = { "C08CA01", "amlodipine", "Amlodipin 5mg",
			     "Uống 1 viên/ngày vào buổi sáng", 0 },
	[GEN_LOSARTAN] = { "C09CA01", "losartan", "Losartan 50mg", "Uống 1 viên/ngày", 0 },
	[GEN_PERINDOPRIL] = { "C09AA04", "perindopril", "Coversyl 5mg (Perindopril)",
			      "Uống 1 viên/ngày trước bữa ăn sáng", 0 },
	[GEN_BISOPROLOL] = { "C07AB07", "bisoprolol", "Bisoprolol 2,5mg",
			     "Uống 1 viên/ngày vào buổi sáng", 0 },
	[GEN_HCTZ] = { "C03AA03", "hydrochlorothiazide", "Hydroclorothiazid 25mg",
		       "Uống 1 viên/ngày vào buổi sáng", 0 },
	[GEN_METFORMIN] = { "A10BA02", "metformin", "Metformin 850mg",
			    "Uống 1 viên x 2 lần/ngày, sau ăn sáng và tối", 0 },
	[GEN_GLICLAZIDE] = { "A10BB09", "gliclazide", "Diamicron MR 30mg (Gliclazid)",
			     "Uống 1 viên/ngày trước bữa ăn sáng", 0 },
	[GEN_INSULIN_MIX] = { "A10AD01", "insulin (human)", "Mixtard 30 (Insulin người 30/70) 100 IU/ml",
			      "Tiêm dưới da 14 đơn vị trước ăn sáng, 10 đơn vị trước ăn tối", 0 },
	[GEN_ATORVASTATIN] = { "C10AA05", "atorvastatin", "Atorvastatin 20mg",
			       "Uống 1 viên/ngày vào buổi tối", 0 },
	[GEN_ROSUVASTATIN] = { "C10AA07", "rosuvastatin", "Crestor 10mg (Rosuvastatin)",
			       "Uống 1 viên/ngày vào buổi tối", 0 },
	[GEN_SALBUTAMOL] = { "R03AC02", "salbutamol", "Ventolin 100mcg/liều (Salbutamol) bình xịt",
			     "Xịt 2 nhát khi khó thở, tối đa 4 lần/ngày", 0 },
	[GEN_BUDESONIDE_FORMOTEROL] = { "R03AK07", "formoterol and budesonide",
					"Symbicort 160/4,5mcg (Budesonid/Formoterol)",
					"Hít 1 liều x 2 lần/ngày, súc miệng sau khi hít", 0 },
	[GEN_SALMETEROL_FLUTICASONE] = { "R03AK06", "salmeterol and fluticasone",
					 "Seretide 25/250mcg (Salmeterol/Fluticason) bình xịt",
					 "Xịt 2 nhát x 2 lần/ngày, súc miệng sau khi xịt", 0 },
	[GEN_TIOTROPIUM] = { "R03BB04", "tiotropium bromide", "Spiriva Respimat 2,5mcg (Tiotropium)",
			     "Hít 2 nhát/ngày vào cùng một giờ", 0 },
	[GEN_TENOFOVIR] = { "J05AF07", "tenofovir disoproxil", "Tenofovir disoproxil fumarat 300mg",
			    "Uống 1 viên/ngày, cùng một giờ mỗi ngày", 0 },
	[GEN_ENTECAVIR] = { "J05AF10", "entecavir", "Entecavir 0,5mg",
			    "Uống 1 viên/ngày lúc đói, trước ăn 2 giờ", 0 },
	[GEN_ASPIRIN] = { "B01AC06", "acetylsalicylic acid", "Aspirin 81mg",
			  "Uống 1 viên/ngày sau ăn trưa", 0 },
	[GEN_CLOPIDOGREL] = { "B01AC04", "clopidogrel", "Clopidogrel 75mg", "Uống 1 viên/ngày", 0 },
	/* TB: the national programme's 2RHZE/4RH, in fixed-dose combinations. */
	[GEN_RHZE] = { "J04AM06", "rifampicin, pyrazinamide, ethambutol and isoniazid",
		       "RHZE (Rifampicin 150mg/Isoniazid 75mg/Pyrazinamid 400mg/Ethambutol 275mg)",
		       "Giai đoạn tấn công 2 tháng: uống 4 viên/ngày lúc đói, buổi sáng", 60 },
	[GEN_RH] = { "J04AM02", "rifampicin and isoniazid", "RH (Rifampicin 150mg/Isoniazid 75mg)",
		     "Giai đoạn duy trì 4 tháng sau giai đoạn tấn công: uống 4 viên/ngày lúc đói", 180 },
	[GEN_PARACETAMOL] = { "N02BE01", "paracetamol", "Panadol 500mg (Paracetamol)",
			      "Uống 1 viên mỗi 6 giờ khi sốt trên 38,5 độ C hoặc đau, tối đa 4 viên/ngày", 5 },
	[GEN_PARACETAMOL_CHILD] = { "N02BE01", "paracetamol", "Hapacol 250 (Paracetamol 250mg) gói bột",
				    "Uống 1 gói mỗi 6 giờ khi sốt trên 38,5 độ C, pha với nước", 5 },
	[GEN_AMOXICILLIN] = { "J01CA04", "amoxicillin", "Amoxicilin 500mg",
			      "Uống 1 viên x 3 lần/ngày, trong 7 ngày", 7 },
	[GEN_AMOXICILLIN_CHILD] = { "J01CA04", "amoxicillin", "Amoxicilin 250mg gói bột",
				    "Uống 1 gói x 3 lần/ngày, trong 7 ngày", 7 },
	[GEN_AMOX_CLAV] = { "J01CR02", "amoxicillin and beta-lactamase inhibitor",
			    "Augmentin 625mg (Amoxicilin/Acid clavulanic 500/125mg)",
			    "Uống 1 viên x 2 lần/ngày sau ăn, trong 7 ngày", 7 },
	[GEN_CEFUROXIME] = { "J01DC02", "cefuroxime", "Zinnat 500mg (Cefuroxim)",
			     "Uống 1 viên x 2 lần/ngày sau ăn, trong 7 ngày", 7 },
	[GEN_AZITHROMYCIN] = { "J01FA10", "azithromycin", "Azithromycin 500mg",
			       "Uống 1 viên/ngày, trong 3 ngày", 3 },
	[GEN_AZITHROMYCIN_CHILD] = { "J01FA10", "azithromycin", "Zitromax 200mg/5ml (Azithromycin) hỗn dịch",
				     "Uống 10mg/kg/ngày, 1 lần/ngày, trong 3 ngày", 3 },
	[GEN_CIPROFLOXACIN] = { "J01MA02", "ciprofloxacin", "Ciprofloxacin 500mg",
				"Uống 1 viên x 2 lần/ngày, trong 5 ngày", 5 },
};

/* Regimens: rough shares of first-line choices in the MoH's treatment
 * guidelines as we read them (hypertension QĐ 3192/QĐ-BYT 2010 and its
 * 2024 update: a calcium-channel blocker or an ACE inhibitor/ARB, often in
 * combination; type 2 diabetes QĐ 5481/QĐ-BYT 2020: metformin first, then
 * a sulfonylurea, insulin for some; statins for dyslipidaemia; inhaled
 * corticosteroid/LABA or a reliever for asthma, LAMA for COPD; tenofovir or
 * entecavir for hepatitis B (QĐ 3310/QĐ-BYT 2019); antiplatelets after
 * stroke and in IHD; 2RHZE/4RH for TB). Weights approximate. */
const struct gen_regimen gen_regimens[] = {
	{ GEN_I10, 35, { GEN_AMLODIPINE } }, { GEN_I10, 20, { GEN_LOSARTAN } },
	{ GEN_I10, 10, { GEN_PERINDOPRIL } }, { GEN_I10, 5, { GEN_BISOPROLOL } },
	{ GEN_I10, 15, { GEN_AMLODIPINE, GEN_LOSARTAN } }, { GEN_I10, 10, { GEN_LOSARTAN, GEN_HCTZ } },
	{ GEN_I10, 5, { GEN_AMLODIPINE, GEN_PERINDOPRIL } },
	{ GEN_E11, 50, { GEN_METFORMIN } }, { GEN_E11, 30, { GEN_METFORMIN, GEN_GLICLAZIDE } },
	{ GEN_E11, 5, { GEN_GLICLAZIDE } }, { GEN_E11, 10, { GEN_METFORMIN, GEN_INSULIN_MIX } },
	{ GEN_E11, 5, { GEN_INSULIN_MIX } },
	{ GEN_E78, 60, { GEN_ATORVASTATIN } }, { GEN_E78, 40, { GEN_ROSUVASTATIN } },
	{ GEN_J45, 50, { GEN_SALBUTAMOL } }, { GEN_J45, 30, { GEN_BUDESONIDE_FORMOTEROL } },
	{ GEN_J45, 20, { GEN_SALMETEROL_FLUTICASONE, GEN_SALBUTAMOL } },
	{ GEN_J44, 40, { GEN_TIOTROPIUM } }, { GEN_J44, 20, { GEN_SALMETEROL_FLUTICASONE } },
	{ GEN_J44, 20, { GEN_BUDESONIDE_FORMOTEROL } }, { GEN_J44, 20, { GEN_TIOTROPIUM, GEN_SALBUTAMOL } },
	{ GEN_B18_1, 70, { GEN_TENOFOVIR } }, { GEN_B18_1, 30, { GEN_ENTECAVIR } },
	{ GEN_I25, 60, { GEN_ASPIRIN } }, { GEN_I25, 20, { GEN_CLOPIDOGREL } },
	{ GEN_I25, 20, { GEN_ASPIRIN, GEN_BISOPROLOL } },
	{ GEN_I63, 50, { GEN_ASPIRIN } }, { GEN_I63, 50, { GEN_CLOPIDOGREL } },
	{ GEN_A15, 1, { GEN_RHZE, GEN_RH } },
};
const size_t gen_n_regimens = N_OF(gen_regimens);

/* On treatment, per 100 of those with the condition (rough: most
 * diagnosed hypertensives and diabetics are treated; a minority of chronic
 * hepatitis B meets the criteria for antivirals; CKD's drugs are those of
 * its causes; every TB case is treated). */
const unsigned gen_treated_per_100[GEN_N_CONDITIONS] = {
	[GEN_I10] = 85, [GEN_E11] = 90, [GEN_E78] = 60, [GEN_J44] = 80, [GEN_J45] = 70,
	[GEN_I25] = 90, [GEN_I63] = 85, [GEN_B18_1] = 35, [GEN_A15] = 100,
};

/* Antibiotics of a short course, adults (children get amoxicillin or
 * azithromycin in paediatric forms): Vietnamese outpatient prescribing is
 * dominated by penicillins and cephalosporins, then macrolides and
 * quinolones. Rough weights. */
const struct gen_weighted gen_antibiotics[] = {
	{ "amoxicillin", 30 }, { "amoxicillin/clavulanate", 25 }, { "cefuroxime", 20 },
	{ "azithromycin", 15 }, { "ciprofloxacin", 10 },
};
const int gen_antibiotic_drug[] = {
	GEN_AMOXICILLIN, GEN_AMOX_CLAV, GEN_CEFUROXIME, GEN_AZITHROMYCIN, GEN_CIPROFLOXACIN,
};
const size_t gen_n_antibiotics = N_OF(gen_antibiotics);

/* TCMR, Vietnam's Expanded Programme on Immunization, for children under 5
 * (the schedule of TT 38/2017/TT-BYT and the programme's updates as we
 * understand them: hepatitis B within 24 hours of birth, BCG in the first
 * month; DPT-VGB-Hib (pentavalent) and bOPV at 2, 3 and 4 months; IPV at
 * 5 months; measles at 9 months; Japanese encephalitis from 12 months, a
 * second dose 1-2 weeks later and a third a year after; MR (measles-
 * rubella) and a DPT booster at 18 months). The MR dose counts as the
 * second of the measles series, the booster as the fourth of DPT. CVX codes
 * (CDC): 08 Hep B paediatric, 19 BCG, 102 DTP-Hib-Hep B, 178 OPV bivalent,
 * 10 IPV, 05 measles, 39 Japanese encephalitis SC (the programme's
 * inactivated vaccine), 04 M/R, 01 DTP. Approximate; newer additions
 * (rotavirus, a second IPV) are left out. */
const struct gen_vaccine_dose gen_tcmr[] = {
	{ "VGB", 1, 0, 0, "08", "Hep B, adolescent or pediatric", "Vắc xin viêm gan B sơ sinh", 1 },
	{ "BCG", 1, 0, 0, "19", "BCG", "Vắc xin phòng lao (BCG)", 1 },
	{ "DPT", 1, 60, 0, "102", "DTP-Hib-Hep B", "Vắc xin DPT-VGB-Hib (5 trong 1)", 0 },
	{ "bOPV", 1, 60, 0, "178", "OPV bivalent", "Vắc xin bại liệt uống (bOPV)", 0 },
	{ "DPT", 2, 90, 28, "102", "DTP-Hib-Hep B", "Vắc xin DPT-VGB-Hib (5 trong 1)", 0 },
	{ "bOPV", 2, 90, 28, "178", "OPV bivalent", "Vắc xin bại liệt uống (bOPV)", 0 },
	{ "DPT", 3, 120, 28, "102", "DTP-Hib-Hep B", "Vắc xin DPT-VGB-Hib (5 trong 1)", 0 },
	{ "bOPV", 3, 120, 28, "178", "OPV bivalent", "Vắc xin bại liệt uống (bOPV)", 0 },
	{ "IPV", 1, 150, 0, "10", "IPV", "Vắc xin bại liệt tiêm (IPV)", 0 },
	{ "Sởi", 1, 270, 0, "05", "measles", "Vắc xin sởi", 0 },
	{ "VNNB", 1, 365, 0, "39", "Japanese encephalitis SC", "Vắc xin viêm não Nhật Bản", 0 },
	{ "VNNB", 2, 372, 7, "39", "Japanese encephalitis SC", "Vắc xin viêm não Nhật Bản", 0 },
	{ "Sởi", 2, 540, 180, "04", "M/R", "Vắc xin sởi - rubella (MR)", 0 },
	{ "DPT", 4, 540, 180, "01", "DTP", "Vắc xin DPT nhắc lại", 0 },
	{ "VNNB", 3, 737, 330, "39", "Japanese encephalitis SC", "Vắc xin viêm não Nhật Bản", 0 },
};
const size_t gen_n_tcmr = N_OF(gen_tcmr);
/* Coverage: the programme reports 90-95% for most doses (WHO/UNICEF
 * estimates of national immunization coverage for Vietnam, 2019-2023,
 * with a dip in 2021-2023 from vaccine shortages). 95% of children keep to
 * the schedule and get 97% of doses, the rest 35%: about 93% a dose. */
const double gen_tcmr_keepers = 0.95, gen_tcmr_keeper_dose = 0.97, gen_tcmr_other_dose = 0.35;

/* Allergies: a few percent of people. Rough shares from Asian
 * questionnaire studies (self-reported penicillin allergy ~1%, NSAID
 * hypersensitivity ~0.5%, shellfish the commonest food allergy in
 * South-East Asian adults, peanut allergy rare, house dust mite the
 * commonest inhaled allergen in tropical cities); per 1000, approximate.
 * SNOMED CT codes: 764146007 Penicillin, 372665008 Non-steroidal
 * anti-inflammatory agent, 44027008 Seafood, 256349002 Peanut,
 * 260147004 House dust mite; reactions 126485001 Urticaria, 271807003
 * Eruption of skin, 39579001 Anaphylaxis, 41291007 Angioedema, 267036007
 * Dyspnea, 76067001 Sneezing. */
const struct gen_allergen gen_allergens[GEN_N_ALLERGENS] = {
	[GEN_ALLERGY_PENICILLIN] = { "medication", "764146007", "Penicillin (substance)",
				     "Dị ứng Penicillin", 12, 0.25,
				     { { "126485001", "Urticaria", "Nổi mề đay" },
				       { "39579001", "Anaphylaxis", "Sốc phản vệ" } } },
	[GEN_ALLERGY_NSAID] = { "medication", "372665008",
				"Non-steroidal anti-inflammatory agent (substance)",
				"Dị ứng thuốc kháng viêm không steroid (NSAID)", 5, 0.2,
				{ { "41291007", "Angioedema", "Phù mạch" },
				  { "126485001", "Urticaria", "Nổi mề đay" } } },
	[GEN_ALLERGY_SEAFOOD] = { "food", "44027008", "Seafood (substance)",
				  "Dị ứng hải sản (tôm, cua)", 15, 0.1,
				  { { "126485001", "Urticaria", "Nổi mề đay" },
				    { "271807003", "Eruption of skin", "Phát ban" } } },
	[GEN_ALLERGY_PEANUT] = { "food", "256349002", "Peanut (substance)", "Dị ứng đậu phộng",
				 3, 0.3,
				 { { "126485001", "Urticaria", "Nổi mề đay" },
				   { "39579001", "Anaphylaxis", "Sốc phản vệ" } } },
	[GEN_ALLERGY_DUST_MITE] = { "environment", "260147004", "House dust mite (organism)",
				    "Dị ứng mạt bụi nhà", 20, 0.02,
				    { { "76067001", "Sneezing", "Hắt hơi, sổ mũi" },
				      { "267036007", "Dyspnea", "Khó thở" } } },
};

/* Pregnancies. HCMC's total fertility rate is about 1.4 children per
 * woman (GSO, 2022-2023), over roughly 28 fertile years: ~0.05 births per
 * woman-year at 18-45. Antenatal care: the MoH's national guideline (QĐ
 * 4128/QĐ-BYT 2016) asks for at least 4 visits, urban women usually make
 * more; we schedule 7 (after WHO 2016's contacts) and keep each after the
 * first with 85%. Caesarean deliveries: around 40-50% in HCMC's hospitals
 * (published hospital series; the national rate is lower). Gestational
 * diabetes: 5-20% in Vietnamese studies depending on the criteria; we take
 * 8%. All approximate. */
const double gen_births_per_woman_year = 0.05, gen_antenatal_kept = 0.85,
	     gen_caesarean_share = 0.45, gen_gestational_diabetes_share = 0.08;
const int gen_antenatal_weeks[GEN_N_ANTENATAL_WEEKS] = { 10, 16, 22, 28, 32, 36, 38 };
const size_t gen_n_antenatal_weeks = N_OF(gen_antenatal_weeks);
