//! The mails of email and password accounts, in Indonesian and English: the
//! verification link, "this address already has an account", the reset link and
//! the notice of a sign-in from a new address. Plain text, like every mail.

use super::templates::Rendered;
use crate::db::enums::Language;

pub fn verify_email(lang: Language, name: &str, link: &str, hours: u64) -> Rendered {
    match lang {
        Language::Id => Rendered {
            subject: "Verifikasi alamat email Anda".into(),
            text: format!(
                "Halo {name},\n\nBuka tautan ini untuk memverifikasi alamat email Anda \
                 (berlaku {hours} jam, sekali pakai):\n\n{link}\n\n\
                 Jika Anda tidak mendaftar, abaikan email ini.\n"
            ),
        },
        Language::En => Rendered {
            subject: "Verify your email address".into(),
            text: format!(
                "Hello {name},\n\nOpen this link to verify your email address \
                 (it works once, for {hours} hours):\n\n{link}\n\n\
                 If you did not sign up, ignore this mail.\n"
            ),
        },
    }
}

/// To the owner of an address someone tried to sign up with again: the sign-up
/// answer is the same either way, so only the owner learns the account exists.
pub fn sign_up_taken(lang: Language, reset_page: &str) -> Rendered {
    match lang {
        Language::Id => Rendered {
            subject: "Alamat ini sudah punya akun".into(),
            text: format!(
                "Halo,\n\nSeseorang (mungkin Anda) mencoba mendaftar dengan alamat email ini, \
                 tetapi alamat ini sudah punya akun. Silakan masuk seperti biasa; jika lupa \
                 kata sandi, aturlah ulang di:\n\n{reset_page}\n\n\
                 Jika bukan Anda, abaikan email ini: akun Anda tidak berubah.\n"
            ),
        },
        Language::En => Rendered {
            subject: "This address already has an account".into(),
            text: format!(
                "Hello,\n\nSomeone (perhaps you) tried to sign up with this email address, \
                 which already has an account. Sign in as usual; if you forgot your \
                 password, reset it at:\n\n{reset_page}\n\n\
                 If it was not you, ignore this mail: your account is unchanged.\n"
            ),
        },
    }
}

pub fn password_reset(lang: Language, link: &str, minutes: u64) -> Rendered {
    match lang {
        Language::Id => Rendered {
            subject: "Atur ulang kata sandi".into(),
            text: format!(
                "Halo,\n\nBuka tautan ini untuk memilih kata sandi baru (berlaku {minutes} menit, \
                 sekali pakai):\n\n{link}\n\n\
                 Setelah kata sandi diganti, semua sesi lain akan keluar. Jika Anda tidak \
                 memintanya, abaikan email ini: kata sandi Anda tidak berubah.\n"
            ),
        },
        Language::En => Rendered {
            subject: "Reset your password".into(),
            text: format!(
                "Hello,\n\nOpen this link to choose a new password (it works once, for \
                 {minutes} minutes):\n\n{link}\n\n\
                 Once it is changed, every other session is signed out. If you did not ask \
                 for this, ignore this mail: your password is unchanged.\n"
            ),
        },
    }
}

pub fn new_sign_in(lang: Language, address: &str, agent: &str, at: &str) -> Rendered {
    match lang {
        Language::Id => Rendered {
            subject: "Masuk dari alamat baru".into(),
            text: format!(
                "Halo,\n\nAkun Anda baru saja masuk dari alamat yang belum pernah dipakai:\n\n\
                 Alamat: {address}\nPerangkat: {agent}\nWaktu: {at}\n\n\
                 Jika ini bukan Anda, ganti kata sandi Anda dan keluarkan sesi lain di \
                 pengaturan akun.\n"
            ),
        },
        Language::En => Rendered {
            subject: "Sign-in from a new address".into(),
            text: format!(
                "Hello,\n\nYour account was just signed in from an address it never used \
                 before:\n\nAddress: {address}\nDevice: {agent}\nTime: {at}\n\n\
                 If this was not you, change your password and sign out your other \
                 sessions in your account settings.\n"
            ),
        },
    }
}
