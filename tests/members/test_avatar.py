"""Avatars: uploaded images are checked, cropped square, shrunk and re-encoded as PNG."""

import io
import struct
import zlib

from PIL import Image

from tests.conftest import csrf_from, error_code


def image_bytes(fmt: str, size=(600, 400), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A real small PNG whose IHDR is patched to declare width × height (CRC fixed)."""
    data = bytearray(image_bytes("PNG", size=(8, 8)))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def upload(client, username: str, data: bytes, filename="photo.png", content_type="image/png"):
    return client.put(
        f"/api/v1/members/{username}/avatar",
        files={"avatar": (filename, data, content_type)},
    )


def stored_avatar(site, username: str):
    answer = site.anonymous().get(f"/members/{username}/avatar")
    if answer.status_code == 404:
        return None
    assert answer.status_code == 200
    return answer


def avatar_url(site, username: str):
    return site.anonymous().get(f"/api/v1/members/{username}").json()["avatar_url"]


def test_no_avatar_is_404(site, alice):
    assert stored_avatar(site, "alice") is None
    assert avatar_url(site, "alice") is None
    assert site.anonymous().get("/members/nobody/avatar").status_code == 404


def test_png_and_jpeg_become_square_png_at_most_256(site, alice):
    me = site.signed_in(alice)
    answer = upload(me, "alice", image_bytes("PNG", size=(600, 400)))
    assert answer.status_code == 200, answer.text
    first_url = answer.json()["avatar_url"]
    assert first_url and first_url.startswith("/members/alice/avatar")

    got = stored_avatar(site, "alice")
    assert got.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(got.content))
    assert image.format == "PNG"
    assert image.size == (256, 256)
    assert image.getpixel((128, 128))[:3] == (200, 30, 30)

    answer = upload(
        me,
        "alice",
        image_bytes("JPEG", size=(300, 900), color=(10, 10, 220)),
        "me.jpg",
        "image/jpeg",
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["avatar_url"] != first_url
    got = stored_avatar(site, "alice")
    image = Image.open(io.BytesIO(got.content))
    assert image.format == "PNG"
    assert image.size == (256, 256)
    red, green, blue = image.getpixel((128, 128))[:3]
    assert blue > 180 and red < 60 and green < 60

    # The URL in the profile serves this image.
    assert site.anonymous().get(answer.json()["avatar_url"]).content == got.content


def test_small_image_is_not_enlarged(site, alice):
    answer = upload(site.bearer(alice), "alice", image_bytes("PNG", size=(100, 40)))
    assert answer.status_code == 200
    image = Image.open(io.BytesIO(stored_avatar(site, "alice").content))
    assert image.size == (40, 40)


def test_non_images_are_415_and_change_nothing(site, alice):
    me = site.signed_in(alice)
    assert upload(me, "alice", image_bytes("PNG")).status_code == 200
    before_url = avatar_url(site, "alice")
    before = stored_avatar(site, "alice").content
    cases = [
        (b"just some text, not a picture\n" * 10, "notes.png", "image/png"),
        (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", "cv.jpg", "image/jpeg"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "a.svg", ""),
        (image_bytes("BMP", size=(20, 20)), "old.bmp", "image/bmp"),
        (image_bytes("PNG")[:40], "truncated.png", "image/png"),
    ]
    for data, name, content_type in cases:
        answer = upload(me, "alice", data, name, content_type or "image/svg+xml")
        assert answer.status_code == 415, (name, answer.text)
        assert error_code(answer) == "unsupported_type"
    assert avatar_url(site, "alice") == before_url
    assert stored_avatar(site, "alice").content == before


def test_huge_declared_pixel_count_is_refused_and_changes_nothing(site, alice):
    me = site.signed_in(alice)
    assert upload(me, "alice", image_bytes("PNG")).status_code == 200
    before_url = avatar_url(site, "alice")
    for width, height in ((20_000, 20_000), (7_000, 7_000), (100_000, 1)):
        bomb = png_claiming(width, height)
        assert len(bomb) < 2_000
        answer = upload(me, "alice", bomb)
        if width * height > 40_000_000:
            # Both past our limit and far past Pillow's own: "too large", not "not an image".
            assert answer.status_code == 413, (width, height, answer.text)
            assert error_code(answer) == "too_large"
        else:
            # Few pixels declared, but the data does not match: not an image we can read.
            assert answer.status_code == 415, answer.text
    assert avatar_url(site, "alice") == before_url


def test_over_five_megabytes_is_413(site, alice):
    me = site.signed_in(alice)
    big = image_bytes("PNG", size=(16, 16)) + b"\0" * (6 * 1024 * 1024)
    answer = upload(me, "alice", big)
    assert answer.status_code == 413
    assert error_code(answer) == "too_large"
    # Just over the limit, under the request-size shortcut: the read limit catches it.
    slightly = image_bytes("PNG", size=(16, 16))
    slightly += b"\0" * (5 * 1024 * 1024 + 1 - len(slightly))
    answer = upload(me, "alice", slightly)
    assert answer.status_code == 413
    assert avatar_url(site, "alice") is None


def test_only_self_or_admin_may_change_a_photo(site, admin, alice, bob):
    answer = upload(site.signed_in(bob), "alice", image_bytes("PNG"))
    assert answer.status_code == 403
    answer = upload(site.anonymous(), "alice", image_bytes("PNG"))
    assert answer.status_code == 401
    assert avatar_url(site, "alice") is None
    answer = upload(site.signed_in(admin), "alice", image_bytes("PNG"))
    assert answer.status_code == 200
    assert avatar_url(site, "alice") is not None


def test_missing_field_is_422(site, alice):
    answer = site.signed_in(alice).put(
        "/api/v1/members/alice/avatar", files={"photo": ("a.png", image_bytes("PNG"), "image/png")}
    )
    assert answer.status_code == 422
    assert "avatar" in answer.json()["error"]["fields"]


def edit_form(client, username: str, avatar: tuple | None, **values):
    page = client.get(f"/members/{username}/edit")
    assert page.status_code == 200
    data = {"csrf_token": csrf_from(page.text), "display_name": "Alice Archivist", **values}
    files = {"avatar": avatar} if avatar else {"avatar": ("", b"", "application/octet-stream")}
    return client.post(f"/members/{username}/edit", data=data, files=files, follow_redirects=False)


def test_edit_form_with_a_good_photo_saves_both(site, alice):
    me = site.signed_in(alice)
    answer = edit_form(
        me, "alice", ("me.jpg", image_bytes("JPEG"), "image/jpeg"), title="With photo"
    )
    assert answer.status_code == 303, answer.text
    body = me.get("/api/v1/members/alice").json()
    assert body["title"] == "With photo"
    assert body["avatar_url"]
    assert Image.open(io.BytesIO(stored_avatar(site, "alice").content)).size == (256, 256)


def test_edit_form_without_a_photo_keeps_the_old_one(site, alice):
    me = site.signed_in(alice)
    assert upload(me, "alice", image_bytes("PNG")).status_code == 200
    before = avatar_url(site, "alice")
    answer = edit_form(me, "alice", None, title="No new photo")
    assert answer.status_code == 303
    assert avatar_url(site, "alice") == before


def test_edit_form_with_a_bad_photo_shows_error_and_saves_nothing(site, alice):
    me = site.signed_in(alice)
    assert upload(me, "alice", image_bytes("PNG")).status_code == 200
    before = me.get("/api/v1/members/alice").json()
    for avatar, reason in (
        (("cv.png", b"%PDF-1.7\n%binary junk", "image/png"), "not an image"),
        (("bomb.png", png_claiming(20_000, 20_000), "image/png"), "too many pixels"),
    ):
        answer = edit_form(
            me, "alice", avatar, title="Should not be saved", organization="Kept Org"
        )
        assert answer.status_code == 422, answer.status_code
        assert "f-avatar-error" in answer.text
        assert reason in answer.text
        assert 'value="Should not be saved"' in answer.text
        assert 'value="Kept Org"' in answer.text
        assert me.get("/api/v1/members/alice").json() == before


def test_jpeg_orientation_tag_is_applied(site, alice):
    # Stored landscape, top half red and bottom half blue, tagged "rotate 90° clockwise to
    # show": upright it is portrait with blue on the left and red on the right.
    photo = Image.new("RGB", (600, 400), (220, 20, 20))
    photo.paste((20, 20, 220), (0, 200, 600, 400))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    out = io.BytesIO()
    photo.save(out, format="JPEG", exif=exif.tobytes())

    answer = upload(site.signed_in(alice), "alice", out.getvalue(), "photo.jpg", "image/jpeg")
    assert answer.status_code == 200, answer.text
    with Image.open(io.BytesIO(stored_avatar(site, "alice").content)) as avatar:
        avatar = avatar.convert("RGB")
        width, height = avatar.size
        left, right = avatar.getpixel((10, 20)), avatar.getpixel((width - 10, 20))
    assert left[2] > 150 and left[0] < 80, left  # blue
    assert right[0] > 150 and right[2] < 80, right  # red
