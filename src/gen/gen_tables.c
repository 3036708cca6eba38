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

/* Wards and communes of HCMC after 01/07/2025 (NQ 1685/NQ-UBTVQH15): a
 * SAMPLE of the 168 names, as we understand them, without codes (the
 * official list with codes, QĐ 19/2025/QĐ-TTg, is not in this repository;
 * no code here pretends to be official). Unverified: check before relying
 * on a name. */
const char *const gen_wards[] = {
	"Phường Sài Gòn", "Phường Tân Định", "Phường Bến Thành", "Phường Cầu Ông Lãnh",
	"Phường Bàn Cờ", "Phường Xuân Hòa", "Phường Nhiêu Lộc", "Phường Xóm Chiếu",
	"Phường Khánh Hội", "Phường Vĩnh Hội", "Phường Chợ Quán", "Phường An Đông",
	"Phường Chợ Lớn", "Phường Bình Tây", "Phường Bình Tiên", "Phường Bình Phú",
	"Phường Phú Lâm", "Phường Tân Thuận", "Phường Phú Thuận", "Phường Tân Mỹ",
	"Phường Tân Hưng", "Phường Chánh Hưng", "Phường Phú Định", "Phường Bình Đông",
	"Phường Diên Hồng", "Phường Vườn Lài", "Phường Hòa Hưng", "Phường Minh Phụng",
	"Phường Bình Thới", "Phường Hòa Bình", "Phường Phú Thọ", "Phường Đông Hưng Thuận",
	"Phường Trung Mỹ Tây", "Phường Tân Thới Hiệp", "Phường Thới An", "Phường An Phú Đông",
	"Phường An Lạc", "Phường Bình Tân", "Phường Tân Tạo", "Phường Bình Trị Đông",
	"Phường Bình Hưng Hòa", "Phường Gia Định", "Phường Bình Thạnh", "Phường Bình Lợi Trung",
	"Phường Thạnh Mỹ Tây", "Phường Bình Quới", "Phường Hạnh Thông", "Phường An Nhơn",
	"Phường Gò Vấp", "Phường An Hội Đông", "Phường Thông Tây Hội", "Phường An Hội Tây",
	"Phường Đức Nhuận", "Phường Cầu Kiệu", "Phường Phú Nhuận", "Phường Tân Sơn Hòa",
	"Phường Tân Sơn Nhất", "Phường Tân Hòa", "Phường Bảy Hiền", "Phường Tân Bình",
	"Phường Tân Sơn", "Phường Tây Thạnh", "Phường Tân Sơn Nhì", "Phường Phú Thọ Hòa",
	"Phường Tân Phú", "Phường Phú Thạnh", "Phường Hiệp Bình", "Phường Thủ Đức",
	"Phường Tam Bình", "Phường Linh Xuân", "Phường Tăng Nhơn Phú", "Phường Long Bình",
	"Phường Long Phước", "Phường Long Trường", "Phường Cát Lái", "Phường Bình Trưng",
	"Phường Phước Long", "Phường An Khánh", "Phường Thủ Dầu Một", "Phường Dĩ An",
	"Phường Thuận An", "Phường Vũng Tàu", "Phường Bà Rịa", "Xã Bình Chánh",
	"Xã Tân Nhựt", "Xã Bình Lợi", "Xã Hưng Long", "Xã Bình Hưng", "Xã Vĩnh Lộc",
	"Xã Củ Chi", "Xã Nhà Bè", "Xã Hiệp Phước", "Xã Cần Giờ", "Xã Thạnh An",
	"Xã Hóc Môn", "Đặc khu Côn Đảo",
};
const size_t gen_n_wards = N_OF(gen_wards);

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
};
